"""Which entries of an uploaded corpus zip are taken, which are skipped, and which refuse
the whole zip: plain rules on what the zip's central directory says, and a byte budget
that counts what decompression really gives (headers are never trusted)."""

from __future__ import annotations

import itertools
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any, Literal

from gateway_service.domain.pairing import AUDIO_SUFFIXES, CONTROL, DRIVE, stem_of

__all__ = [
    "ARCHIVE_SUFFIXES",
    "MAGIC_PROBE_BYTES",
    "TEXT_SUFFIXES",
    "ByteBudget",
    "CorpusErrorCode",
    "CorpusFile",
    "CorpusLimits",
    "CorpusPlan",
    "CorpusRefused",
    "ZipEntry",
    "archive_kind",
    "plan_corpus",
]

TEXT_SUFFIXES = frozenset({".txt", ".lab"})
ARCHIVE_SUFFIXES = (
    ".zip", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".tbz2", ".xz", ".txz", ".zst", ".jar"
)  # fmt: skip
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
JUNK_FOLDERS = frozenset({"__macosx"})
MAGIC_PROBE_BYTES = 262  # a tar's "ustar" is at 257
MAX_NAME_CHARS = 512  # contracts.strings.FILE_NAME_MAX_LENGTH: names are kept at most this long
STORED, DEFLATED = 0, 8  # the compression methods taken (others could ask for much memory)
LOCAL_HEADER_BYTES = 30
MAGIC = (  # (kind, offset, bytes) of archives and compressed streams
    ("zip", 0, b"PK\x03\x04"),
    ("zip", 0, b"PK\x05\x06"),
    ("zip", 0, b"PK\x07\x08"),
    ("gzip", 0, b"\x1f\x8b"),
    ("7z", 0, b"7z\xbc\xaf\x27\x1c"),
    ("rar", 0, b"Rar!\x1a\x07"),
    ("xz", 0, b"\xfd7zXZ\x00"),
    ("zstd", 0, b"\x28\xb5\x2f\xfd"),
    ("bzip2", 4, b"1AY&SY"),  # after "BZh" and the block size digit
    ("tar", 257, b"ustar"),
)


class CorpusErrorCode(StrEnum):
    """Why a corpus zip is refused, as the API's ``error.code`` says it."""

    INVALID = "zip_invalid"  # not a zip, truncated, corrupt (bad CRC)
    UNSAFE_PATH = "zip_unsafe_path"  # .., absolute, drive letter, backslash, control chars
    SYMLINK = "zip_symlink"  # a symbolic link or another special file
    NESTED_ARCHIVE = "zip_nested_archive"  # an archive inside, by name or by content
    ENCRYPTED = "zip_encrypted"
    UNSUPPORTED_COMPRESSION = "zip_unsupported_compression"  # only stored and deflated
    DUPLICATE_STEM = "zip_duplicate_stem"  # two audio (or texts) for one stem, or one name twice
    BOMB = "zip_bomb"  # compression ratio over the limit, or entries sharing their data
    TOO_MANY_ENTRIES = "zip_too_many_entries"
    TOO_LARGE = "zip_too_large"  # all entries together, uncompressed
    ENTRY_TOO_LARGE = "zip_entry_too_large"  # one entry, uncompressed


class CorpusRefused(Exception):
    def __init__(
        self, code: CorpusErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class CorpusLimits:
    max_entries: int  # in the central directory, folders and skipped files included
    max_files_per_kind: int  # audio files, and transcripts (the plan's pairs per job)
    max_entry_bytes: int  # one entry, uncompressed (the plan's size per file)
    max_total_bytes: int  # every entry, uncompressed
    max_ratio: float  # uncompressed / compressed, per entry and for the whole zip
    ratio_floor_bytes: int = 1 << 20  # smaller entries may compress as well as they like


@dataclass(frozen=True)
class ZipEntry:
    """An entry as the central directory describes it."""

    name: str
    compressed: int
    size: int  # as declared: a limit for zipfile, never proof of what comes out
    offset: int  # of its local header
    mode: int = 0  # Unix mode bits (high half of external_attr); 0 when not given
    flags: int = 0
    method: int = DEFLATED
    is_dir: bool = False
    name_intact: bool = True  # False when the stored name had a NUL that zipfile cut at


@dataclass(frozen=True)
class CorpusFile:
    entry: ZipEntry
    kind: Literal["audio", "text"]

    @property
    def name(self) -> str:
        return self.entry.name


@dataclass
class CorpusPlan:
    audio: list[CorpusFile] = field(default_factory=list)
    text: list[CorpusFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # junk and files of other kinds

    @property
    def files(self) -> list[CorpusFile]:
        return self.audio + self.text


def plan_corpus(
    entries: Sequence[ZipEntry], limits: CorpusLimits, archive_bytes: int
) -> CorpusPlan:
    """The audio and transcripts to extract, in the zip's order; raises ``CorpusRefused``
    for the first rule an entry breaks, before anything is decompressed."""
    if len(entries) > limits.max_entries:
        raise CorpusRefused(
            CorpusErrorCode.TOO_MANY_ENTRIES,
            f"the zip has {len(entries)} entries; at most {limits.max_entries} are allowed",
        )
    plan = CorpusPlan()
    for entry in entries:
        _check_entry(entry)
        if entry.is_dir:
            continue
        kind = _kind(entry.name)
        if kind is None:
            plan.skipped.append(entry.name)
            continue
        _check_declared_size(entry, limits)
        (plan.audio if kind == "audio" else plan.text).append(CorpusFile(entry, kind))
    for files, what in ((plan.audio, "audio files"), (plan.text, "transcripts")):
        if len(files) > limits.max_files_per_kind:
            raise CorpusRefused(
                CorpusErrorCode.TOO_MANY_ENTRIES,
                f"the zip has {len(files)} {what}; your plan allows {limits.max_files_per_kind}"
                " per job",
            )
    _check_duplicates(entries, plan)
    _check_overlaps([e for e in entries if not e.is_dir])
    declared = sum(f.entry.size for f in plan.files)
    if declared > limits.max_total_bytes:
        raise CorpusRefused(
            CorpusErrorCode.TOO_LARGE,
            f"the zip's files come to {declared} bytes uncompressed; at most "
            f"{limits.max_total_bytes} are allowed",
        )
    _check_ratio("the zip", declared, archive_bytes, limits)
    return plan


def _check_entry(entry: ZipEntry) -> None:
    name = entry.name
    unsafe = _unsafe_reason(name, entry.is_dir, entry.name_intact)
    if unsafe:
        raise CorpusRefused(
            CorpusErrorCode.UNSAFE_PATH, f"the entry {name[:200]!r} {unsafe}", {"entry": name[:200]}
        )
    kind = stat.S_IFMT(entry.mode)  # 0: permissions only (as Python's zipfile writes)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if stat.S_ISLNK(entry.mode) else "not a regular file"
        raise CorpusRefused(
            CorpusErrorCode.SYMLINK, f"the entry {name!r} is {what}", {"entry": name}
        )
    if entry.flags & 0x41:  # bit 0: encrypted; bit 6: strong encryption
        raise CorpusRefused(
            CorpusErrorCode.ENCRYPTED, f"the entry {name!r} is encrypted", {"entry": name}
        )
    if not entry.is_dir and _junk(name):
        return
    if not entry.is_dir and name.lower().endswith(ARCHIVE_SUFFIXES):
        raise CorpusRefused(
            CorpusErrorCode.NESTED_ARCHIVE,
            f"the entry {name!r} is an archive: send one zip of plain files",
            {"entry": name},
        )
    if not entry.is_dir and entry.method not in (STORED, DEFLATED):
        raise CorpusRefused(
            CorpusErrorCode.UNSUPPORTED_COMPRESSION,
            f"the entry {name!r} is compressed with method {entry.method}; use deflate "
            "(what zip tools do by default) or none",
            {"entry": name},
        )


def _unsafe_reason(name: str, is_dir: bool, intact: bool) -> str | None:
    parts = name.removesuffix("/").split("/") if is_dir else name.split("/")
    rules = (
        (not intact or bool(CONTROL.search(name)), "has control characters in its name"),
        ("\\" in name, "has a backslash in its name"),
        (name.startswith("/") or bool(DRIVE.match(name)), "is an absolute path"),
        (".." in parts, "climbs out of the corpus (..)"),
        (any(part in ("", ".") for part in parts), "has an empty or '.' folder in its path"),
        (len(name) > MAX_NAME_CHARS, f"has a path longer than {MAX_NAME_CHARS} characters"),
    )
    return next((reason for broken, reason in rules if broken), None)


def _junk(name: str) -> bool:
    """What archivers add beside the files: macOS resource forks and folder settings."""
    parts = PurePosixPath(name).parts
    base = parts[-1].lower()
    return (
        any(p.lower() in JUNK_FOLDERS for p in parts[:-1])
        or base in JUNK_NAMES
        or base.startswith("._")
    )


def _kind(name: str) -> Literal["audio", "text"] | None:
    if _junk(name):
        return None
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in TEXT_SUFFIXES:
        return "text"
    return None


def _check_declared_size(entry: ZipEntry, limits: CorpusLimits) -> None:
    _check_ratio(f"the entry {entry.name!r}", entry.size, entry.compressed, limits)
    if entry.size > limits.max_entry_bytes:
        raise CorpusRefused(
            CorpusErrorCode.ENTRY_TOO_LARGE,
            f"the entry {entry.name!r} is {entry.size} bytes uncompressed; the limit is "
            f"{limits.max_entry_bytes}",
            {"entry": entry.name, "limit": limits.max_entry_bytes},
        )


def _check_ratio(what: str, size: int, compressed: int, limits: CorpusLimits) -> None:
    if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(compressed, 1):
        raise CorpusRefused(
            CorpusErrorCode.BOMB,
            f"{what} expands more than {limits.max_ratio:g} times: refused as a zip bomb",
            {"max_ratio": limits.max_ratio},
        )


def _check_duplicates(entries: Sequence[ZipEntry], plan: CorpusPlan) -> None:
    """One name once; one audio and one transcript per stem, whatever the letters' case
    (the results would overwrite each other where names ignore case)."""
    seen: dict[str, str] = {}
    for entry in entries:
        key = entry.name.removesuffix("/").casefold()
        if key in seen:
            raise CorpusRefused(
                CorpusErrorCode.DUPLICATE_STEM,
                f"the zip holds {entry.name!r} twice",
                {"duplicates": [seen[key], entry.name]},
            )
        seen[key] = entry.name
    for files in (plan.audio, plan.text):
        stems: dict[str, str] = {}
        for f in files:
            stem = stem_of(f.name).casefold()
            if stem in stems:
                raise CorpusRefused(
                    CorpusErrorCode.DUPLICATE_STEM,
                    f"{stems[stem]!r} and {f.name!r} have the same name (stem): "
                    f"keep one {f.kind} file per stem",
                    {"duplicates": [stems[stem], f.name]},
                )
            stems[stem] = f.name


def _check_overlaps(entries: Sequence[ZipEntry]) -> None:
    """Entries whose data overlap (one deflated stream read by many entries, the
    non-recursive zip bomb) are refused."""
    ordered = sorted(entries, key=lambda e: e.offset)
    for entry, after in itertools.pairwise(ordered):
        if after.offset < entry.offset + LOCAL_HEADER_BYTES + entry.compressed:
            raise CorpusRefused(
                CorpusErrorCode.BOMB,
                f"the entries {entry.name!r} and {after.name!r} share their data: "
                "refused as a zip bomb",
            )


def archive_kind(head: bytes) -> str | None:
    """The kind of archive or compressed stream ``head`` (a file's first bytes) begins."""
    return next((kind for kind, at, magic in MAGIC if head[at : at + len(magic)] == magic), None)


class ByteBudget:
    """Counts what decompression really gives, entry by entry and in all, and refuses
    the zip the moment an entry or the whole goes over a limit."""

    def __init__(self, limits: CorpusLimits, archive_bytes: int) -> None:
        self._limits = limits
        self._archive_bytes = archive_bytes
        self.total = 0

    def take(self, entry: ZipEntry, entry_so_far: int, count: int) -> None:
        """``count`` more bytes of ``entry`` came out, after ``entry_so_far`` before."""
        self.total += count
        size = entry_so_far + count
        limits = self._limits
        if size > limits.max_entry_bytes:
            raise CorpusRefused(
                CorpusErrorCode.ENTRY_TOO_LARGE,
                f"the entry {entry.name!r} is larger than the limit of "
                f"{limits.max_entry_bytes} bytes uncompressed",
                {"entry": entry.name, "limit": limits.max_entry_bytes},
            )
        if self.total > limits.max_total_bytes:
            raise CorpusRefused(
                CorpusErrorCode.TOO_LARGE,
                f"the zip's files come to more than {limits.max_total_bytes} bytes uncompressed",
            )
        _check_ratio(f"the entry {entry.name!r}", size, entry.compressed, limits)
        _check_ratio("the zip", self.total, self._archive_bytes, limits)
