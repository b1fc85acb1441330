"""A corpus zip is unpacked into the upload's parts with its folders kept, and every hostile
zip (bombs, path traversal, links, nested archives, encryption, duplicates, damaged or not
a zip at all) is refused with its own code, leaving nothing stored."""

from __future__ import annotations

import gzip
import io
import random
import stat
import struct
import tarfile
import warnings
import zipfile
from collections.abc import Sequence
from typing import cast

import pytest

from gateway_service.adapters.corpus_zip import Spool
from gateway_service.adapters.upload import UploadedFile, UploadLimits
from gateway_service.domain.corpus import (
    ByteBudget,
    CorpusErrorCode,
    CorpusLimits,
    CorpusRefused,
    ZipEntry,
    archive_kind,
)
from gateway_service.domain.pairing import PairingError, clean_name
from gateway_service.service_layer.corpus import corpus_limits, unpack_corpus
from servicekit.fakes import InMemoryObjects
from servicekit.objects import Objects

LIMITS = CorpusLimits(
    max_entries=50,
    max_files_per_kind=10,
    max_entry_bytes=8 << 20,
    max_total_bytes=32 << 20,
    max_ratio=100,
)
Code = CorpusErrorCode


def wav_bytes(seed: int, size: int = 3000) -> bytes:
    return b"RIFF" + random.Random(seed).randbytes(size)


CORPUS = {
    "speaker1/": b"",
    "speaker1/utt1.wav": wav_bytes(1),
    "speaker1/utt1.txt": b"she had your dark suit\n",
    "speaker2/utt2.FLAC": b"fLaC" + random.Random(2).randbytes(2000),
    "speaker2/utt2.lab": b"in greasy wash water all year\n",
    "utt3.mp3": b"ID3" + random.Random(3).randbytes(1000),
    "utt3.txt": b"don't ask me to carry an oily rag like that\n",
}


def zip_of(
    entries: dict[str, bytes] | Sequence[tuple[str | zipfile.ZipInfo, bytes]],
    method: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    buffer = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name", on purpose
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return buffer.getvalue()


def patched(data: bytes, name: str, **fields: int) -> bytes:
    """The zip with fields of ``name``'s headers (central and local) changed: ``flags``,
    ``size`` (uncompressed) or ``offset`` (central only)."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    (central,) = struct.unpack_from("<I", data, len(data) - 22 + 16)  # the end record's
    encoded = name.encode()
    while out[central + 46 : central + 46 + len(encoded)] != encoded:
        central = out.index(b"PK\x01\x02", central + 4)
    at = {"flags": (8, 6, "<H"), "size": (24, 22, "<I"), "offset": (42, None, "<I")}
    for field, value in fields.items():
        in_central, in_local, shape = at[field]
        struct.pack_into(shape, out, central + in_central, value)
        if in_local is not None:
            struct.pack_into(shape, out, local + in_local, value)
    return bytes(out)


def spool_of(data: bytes) -> Spool:
    spool = Spool()
    spool.file.write(data)
    spool.size = len(data)
    return spool


async def unpack(
    data: bytes, limits: CorpusLimits = LIMITS
) -> tuple[list[UploadedFile], InMemoryObjects]:
    store = InMemoryObjects()
    spool = spool_of(data)
    try:
        files = await unpack_corpus(cast(Objects, store), spool, lambda f, i: f"in/{f}-{i}", limits)
    finally:
        spool.close()
    return files, store


async def assert_refused(data: bytes, code: CorpusErrorCode, limits: CorpusLimits = LIMITS) -> str:
    store = InMemoryObjects()
    spool = spool_of(data)
    try:
        with pytest.raises(CorpusRefused) as caught:
            await unpack_corpus(cast(Objects, store), spool, lambda f, i: f"in/{f}-{i}", limits)
    finally:
        spool.close()
    assert caught.value.code == code, caught.value.message
    assert store.objects == {}, "a refused zip left parts in storage"
    return caught.value.message


async def test_a_corpus_is_unpacked_with_its_folders_kept() -> None:
    junk = {
        "__MACOSX/speaker1/._utt1.wav": b"\x00\x05\x16\x07",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "speaker1/.DS_Store": b"Bud1",
        "speaker1/._utt1.txt": b"\x00\x05\x16\x07",
        "README.md": b"# my corpus\n",
        "speaker1/utt1.TextGrid": b'File type = "ooTextFile"\n',
    }
    files, store = await unpack(zip_of(CORPUS | junk))
    assert [(f.field, f.index, f.filename) for f in files] == [
        ("audio_files", 0, "speaker1/utt1.wav"),
        ("audio_files", 1, "speaker2/utt2.FLAC"),
        ("audio_files", 2, "utt3.mp3"),
        ("text_files", 0, "speaker1/utt1.txt"),
        ("text_files", 1, "speaker2/utt2.lab"),
        ("text_files", 2, "utt3.txt"),
    ]
    for f in files:
        assert f.key == f"in/{f.field}-{f.index}"
        assert bytes(store.objects[f.key]) == CORPUS[f.filename]
        assert f.size == len(CORPUS[f.filename])
    assert len(store.objects) == 6


async def test_stored_entries_and_large_ones_stream_through() -> None:
    big = wav_bytes(9, 3 << 20)  # several reads of a MiB
    files, store = await unpack(
        zip_of({"a/big.wav": big, "a/big.txt": b"words"}, method=zipfile.ZIP_STORED)
    )
    assert bytes(store.objects[files[0].key]) == big and files[0].size == len(big)


async def test_unpaired_files_are_named_and_nothing_is_stored() -> None:
    data = zip_of(CORPUS | {"speaker3/utt4.wav": wav_bytes(4), "notes/utt5.txt": b"x"})
    store = InMemoryObjects()
    spool = spool_of(data)
    with pytest.raises(PairingError) as caught:
        await unpack_corpus(cast(Objects, store), spool, lambda f, i: f"in/{f}-{i}", LIMITS)
    spool.close()
    assert caught.value.details == {
        "audio_without_text": ["speaker3/utt4.wav"],
        "text_without_audio": ["notes/utt5.txt"],
    }
    assert store.objects == {}


async def test_a_bomb_is_refused_by_its_declared_ratio() -> None:
    data = zip_of({"a.wav": bytes(4 << 20), "a.txt": b"hello"})  # 4 MiB of zeros: ~4 KiB
    assert len(data) < 10_000
    message = await assert_refused(data, Code.BOMB)
    assert "zip bomb" in message


async def test_a_bomb_over_the_size_limits_is_refused_before_decompressing() -> None:
    data = zip_of({"a.wav": bytes(4 << 20), "a.txt": b"hello"})
    small = CorpusLimits(10, 10, max_entry_bytes=1 << 20, max_total_bytes=8 << 20, max_ratio=1e9)
    await assert_refused(data, Code.ENTRY_TOO_LARGE, small)
    entries = {f"{n}.wav": bytes(3 << 19) for n in range(4)} | {f"{n}.txt": b"hi" for n in range(4)}
    wide = CorpusLimits(50, 10, max_entry_bytes=2 << 20, max_total_bytes=5 << 20, max_ratio=1e9)
    await assert_refused(zip_of(entries), Code.TOO_LARGE, wide)


async def test_a_header_that_understates_the_size_is_caught_when_decompressing() -> None:
    data = zip_of({"a.wav": wav_bytes(5, 50_000), "a.txt": b"hello"})
    await assert_refused(patched(data, "a.wav", size=1000), Code.INVALID)  # the CRC disagrees


def test_the_byte_budget_counts_real_bytes_whatever_the_header_says() -> None:
    entry = ZipEntry("a.wav", compressed=1000, size=10, offset=0)
    limits = CorpusLimits(10, 10, max_entry_bytes=5000, max_total_bytes=8000, max_ratio=2)
    budget = ByteBudget(limits, archive_bytes=100_000)
    budget.take(entry, 0, 2000)
    with pytest.raises(CorpusRefused) as caught:
        budget.take(entry, 2000, 3001)
    assert caught.value.code == Code.ENTRY_TOO_LARGE
    budget = ByteBudget(limits, archive_bytes=100_000)
    other = ZipEntry("b.wav", compressed=4000, size=10, offset=2000)
    budget.take(entry, 0, 4000)
    with pytest.raises(CorpusRefused) as caught:
        budget.take(other, 0, 4001)
    assert caught.value.code == Code.TOO_LARGE
    ratio = CorpusLimits(10, 10, 1 << 40, 1 << 40, max_ratio=10, ratio_floor_bytes=100)
    budget = ByteBudget(ratio, archive_bytes=100_000)
    budget.take(entry, 0, 10_000)
    with pytest.raises(CorpusRefused) as caught:
        budget.take(entry, 10_000, 1)
    assert caught.value.code == Code.BOMB


async def test_entries_sharing_their_data_are_a_bomb() -> None:
    data = zip_of({"a.wav": wav_bytes(6), "a.txt": b"hello", "b.wav": wav_bytes(7)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first = archive.getinfo("a.wav").header_offset
    await assert_refused(patched(data, "b.wav", offset=first), Code.BOMB)


@pytest.mark.parametrize(
    "name",
    [
        "../utt1.wav",
        "speaker1/../../utt1.wav",
        "/etc/utt1.wav",
        "C:/corpus/utt1.wav",
        "c:utt1.wav",
        "speaker1\\utt1.wav",
        "..\\..\\utt1.wav",
        "speaker1//utt1.wav",
        "./utt1.wav",
        "speaker\x01/utt1.wav",
        "a/" * 300 + "utt1.wav",
    ],
)
async def test_unsafe_paths_are_refused(name: str) -> None:
    await assert_refused(zip_of(CORPUS | {name: wav_bytes(8)}), Code.UNSAFE_PATH)


async def test_a_traversing_folder_entry_is_refused_too() -> None:
    await assert_refused(zip_of(CORPUS | {"../up/": b""}), Code.UNSAFE_PATH)


@pytest.mark.parametrize("kind", [stat.S_IFLNK, stat.S_IFIFO, stat.S_IFCHR])
async def test_symlinks_and_special_files_are_refused(kind: int) -> None:
    link = zipfile.ZipInfo("speaker1/utt9.wav")
    link.create_system = 3
    link.external_attr = (kind | 0o777) << 16
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = [*CORPUS.items(), (link, b"/etc/passwd")]
    await assert_refused(zip_of(entries), Code.SYMLINK)


@pytest.mark.parametrize(
    "name", ["speaker1/more.zip", "x.tar", "x.tar.gz", "x.TGZ", "x.7z", "x.rar", "x.gz"]
)
async def test_nested_archives_are_refused_by_name(name: str) -> None:
    await assert_refused(zip_of(CORPUS | {name: b"whatever"}), Code.NESTED_ARCHIVE)


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("x.wav")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"RIFF"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        zip_of({"inner/a.wav": b"RIFF", "inner/a.txt": b"hi"}),
        gzip.compress(b"RIFF" * 100),
        b"7z\xbc\xaf\x27\x1c" + bytes(100),
        b"Rar!\x1a\x07\x01\x00" + bytes(100),
        b"PK\x05\x06" + bytes(18),  # an empty zip: shorter than the probe
        _tar(),
    ],
    ids=["zip", "gzip", "7z", "rar", "empty-zip", "tar"],
)
async def test_nested_archives_are_refused_by_content(content: bytes) -> None:
    data = zip_of(CORPUS | {"speaker1/utt1.wav": content})
    message = await assert_refused(data, Code.NESTED_ARCHIVE)
    assert "speaker1/utt1.wav" in message
    text = zip_of(CORPUS | {"speaker1/utt1.txt": content})
    await assert_refused(text, Code.NESTED_ARCHIVE)


async def test_encrypted_entries_are_refused() -> None:
    data = zip_of(CORPUS)
    await assert_refused(patched(data, "speaker1/utt1.txt", flags=0x1), Code.ENCRYPTED)


async def test_only_deflate_or_stored_entries_are_taken() -> None:
    await assert_refused(zip_of(CORPUS, method=zipfile.ZIP_BZIP2), Code.UNSUPPORTED_COMPRESSION)
    await assert_refused(zip_of(CORPUS, method=zipfile.ZIP_LZMA), Code.UNSUPPORTED_COMPRESSION)


@pytest.mark.parametrize(
    "extra",
    [
        {"speaker1/utt1.flac": b"fLaC"},  # two audio files for one stem
        {"speaker1/utt1.lab": b"hello"},  # two transcripts
        {"speaker1/UTT1.wav": wav_bytes(9)},  # the same where case is ignored
        {"Speaker1/utt1.txt": b"hello"},
    ],
)
async def test_duplicate_stems_are_refused(extra: dict[str, bytes]) -> None:
    message = await assert_refused(zip_of(CORPUS | extra), Code.DUPLICATE_STEM)
    assert "utt1" in message.lower()


async def test_one_name_twice_is_refused() -> None:
    entries = [*CORPUS.items(), ("utt3.txt", b"again")]
    await assert_refused(zip_of(entries), Code.DUPLICATE_STEM)


async def test_too_many_entries_are_refused_from_the_end_record() -> None:
    few = CorpusLimits(5, 10, 1 << 20, 1 << 20, 100)
    await assert_refused(zip_of(CORPUS), Code.TOO_MANY_ENTRIES, few)
    one_pair = CorpusLimits(50, 2, 1 << 20, 1 << 20, 100)
    message = await assert_refused(zip_of(CORPUS), Code.TOO_MANY_ENTRIES, one_pair)
    assert "3 audio files" in message


def test_the_limits_come_from_the_plan_and_the_gateway() -> None:
    limits = corpus_limits(
        UploadLimits(
            max_file_bytes=1000,
            max_request_bytes=10**9,
            max_files_per_field=3,
            max_corpus_bytes=5000,
            max_corpus_entries=10_000,
            max_compression_ratio=50,
        )
    )
    assert limits == CorpusLimits(
        max_entries=4 * 3 + 64,
        max_files_per_kind=3,
        max_entry_bytes=1000,
        max_total_bytes=5000,
        max_ratio=50,
    )


GOOD = zip_of(CORPUS)


@pytest.mark.parametrize("cut", [0, 1, 4, 30, len(GOOD) // 3, len(GOOD) // 2, len(GOOD) - 23])
async def test_a_truncated_zip_is_invalid(cut: int) -> None:
    await assert_refused(GOOD[:cut], Code.INVALID)


@pytest.mark.parametrize("cut", [30, 200, len(GOOD) // 2])
async def test_a_zip_missing_a_middle_piece_is_invalid(cut: int) -> None:
    await assert_refused(GOOD[:cut] + GOOD[cut + 100 :], Code.INVALID)


async def test_damaged_data_is_invalid() -> None:
    with zipfile.ZipFile(io.BytesIO(GOOD)) as archive:
        info = archive.getinfo("speaker1/utt1.wav")
    at = info.header_offset + 30 + len(info.filename) + 50
    damaged = GOOD[:at] + bytes(b ^ 0xFF for b in GOOD[at : at + 40]) + GOOD[at + 40 :]
    await assert_refused(damaged, Code.INVALID)


@pytest.mark.parametrize("seed", range(5))
async def test_random_bytes_are_not_a_zip(seed: int) -> None:
    rng = random.Random(seed)
    await assert_refused(rng.randbytes(rng.randrange(1, 70_000)), Code.INVALID)


async def test_random_bytes_ending_like_a_zip_are_not_one() -> None:
    fake_end = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 3, 3, 150, 10, 0)
    await assert_refused(random.Random(1).randbytes(5000) + fake_end, Code.INVALID)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("speaker1/utt1.wav", "speaker1/utt1.wav"),
        ("../../speaker1/utt1.wav", "speaker1/utt1.wav"),
        ("C:\\corpus\\spk\\utt1.wav", "corpus/spk/utt1.wav"),
        ("/abs//./utt1.wav", "abs/utt1.wav"),
        ("a\x00b\x1f.wav", "ab.wav"),
        ("..", ""),
    ],
)
def test_client_file_names_keep_their_folders_made_safe(sent: str, kept: str) -> None:
    assert clean_name(sent) == kept


def test_archive_magic() -> None:
    assert archive_kind(b"RIFF....WAVEfmt ") is None
    assert archive_kind(b"BZh91AY&SY" + bytes(10)) == "bzip2"
    assert archive_kind(b"BZh is how a transcript may start") is None
    assert archive_kind(b"\xfd7zXZ\x00\x00") == "xz"
    assert archive_kind(b"\x28\xb5\x2f\xfd\x00") == "zstd"


async def test_mutated_zips_are_taken_or_refused_never_a_crash() -> None:
    """Bytes changed at random anywhere (headers, data, directory) give a corpus, a
    refusal with a code, or unpaired files; never another error, never a part left."""
    rng = random.Random(14)
    originals = [GOOD, zip_of(CORPUS, method=zipfile.ZIP_STORED)]
    for _ in range(300):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        store = InMemoryObjects()
        spool = spool_of(bytes(data))
        try:
            await unpack_corpus(cast(Objects, store), spool, lambda f, i: f"in/{f}-{i}", LIMITS)
        except (CorpusRefused, PairingError):
            assert store.objects == {}
        finally:
            spool.close()
