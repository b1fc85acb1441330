"""HTTP byte ranges (RFC 9110 14.1.2), one range per request: what ``Range: bytes=...``
asks of an object of ``size`` bytes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range"]


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"the file has {size} bytes")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive, as in the header
    size: int  # of the whole object

    @property
    def length(self) -> int:
        return self.last - self.first + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.first}-{self.last}/{self.size}"


def parse_range(header: str, size: int) -> ByteRange:
    """``bytes=first-last``, ``bytes=first-`` (to the end) or ``bytes=-n`` (the last n
    bytes); a last byte past the end means the end. Several ranges, other units and
    ranges that start past the end are not satisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec or "-" not in spec:
        raise RangeNotSatisfiable(size)
    start_text, end_text = (s.strip() for s in spec.split("-", 1))
    try:
        if start_text == "":  # the last N bytes
            first, last = max(size - int(end_text), 0), size - 1
        else:
            first = int(start_text)
            last = min(int(end_text), size - 1) if end_text else size - 1
    except ValueError as exc:
        raise RangeNotSatisfiable(size) from exc
    if first < 0 or first > last or first >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(first, last, size)
