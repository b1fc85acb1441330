"""``Range: bytes=...`` as the audio download reads it: one range, clamped to the file,
and 416 for what no byte of the file can satisfy."""

from __future__ import annotations

import pytest

from gateway_service.domain.ranges import ByteRange, RangeNotSatisfiable, parse_range

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),  # the first byte
        ("bytes=999-999", 999, 999),  # the last byte
        ("bytes=-1", 999, 999),  # the last byte, as a suffix
        ("bytes=-10", 990, 999),  # the last ten
        ("bytes=-5000", 0, 999),  # a suffix longer than the file is the whole file
        ("bytes=100-", 100, 999),  # open-ended
        ("bytes=999-", 999, 999),
        ("bytes=100-1099", 100, 999),  # past the end means to the end
        ("bytes=0-999", 0, 999),
        ("bytes=250-499", 250, 499),
        (" bytes = 7 - 8 ", 7, 8),
    ],
)
def test_a_satisfiable_range(header: str, first: int, last: int) -> None:
    wanted = parse_range(header, SIZE)
    assert wanted == ByteRange(first, last, SIZE)
    assert wanted.length == last - first + 1
    assert wanted.content_range == f"bytes {first}-{last}/{SIZE}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",  # starts past the end
        "bytes=1000-1001",
        "bytes=-0",  # the last zero bytes
        "bytes=5-3",  # backwards
        "bytes=0-1,5-6",  # several ranges: not served
        "items=0-1",  # another unit
        "bytes=abc-",
        "bytes=1-x",
        "bytes=",
        "bytes=5",
        "bytes=--5",
        "bytes=-x",
    ],
)
def test_an_unsatisfiable_range(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range(header, SIZE)
    assert refused.value.size == SIZE
    assert str(refused.value) == f"the file has {SIZE} bytes"


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=-1", "bytes=0-0"])
def test_no_range_of_an_empty_file_is_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 0)
