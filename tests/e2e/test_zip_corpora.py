"""A corpus sent as one zip (MFA layout, speaker folders) is aligned like the same files sent
part by part, with its folders kept in every name and in the result zip; hostile zips (a
10 MB -> 10 GB bomb, ``../``, a symlink, a nested zip, a duplicate stem, not a zip) are
refused with a 4xx and leave no job and nothing under ``incoming/``."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import PurePosixPath
from typing import Any

import pytest

from devstack import Stack
from tests.e2e.helpers import EVAL, User, object_keys, user_on_plan, wait_for

pytestmark = pytest.mark.e2e

SPEAKERS = {"speaker1": "dr1-fvmh0", "speaker2": "dr2-marc0"}
CORPUS = {  # name in the corpus -> the file in the shared evaluation set
    f"{folder}/{wav.stem}{suffix}": wav.with_suffix(suffix)
    for folder, speaker in SPEAKERS.items()
    for wav in sorted((EVAL / "timit").glob(f"{speaker}_*.wav"))[:3]
    for suffix in (".wav", ".txt")
}


@pytest.fixture(scope="module")
def user(stack: Stack) -> User:
    return user_on_plan(stack, max_files_per_job=10, max_concurrent_jobs=10)


def corpus_zip(extra: dict[str | zipfile.ZipInfo, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in SPEAKERS:
            archive.writestr(f"{folder}/", b"")
        for name, path in CORPUS.items():
            archive.writestr(name, path.read_bytes())
        archive.writestr("__MACOSX/speaker1/._x.wav", b"\x00\x05\x16\x07")
        for entry, data in (extra or {}).items():
            archive.writestr(entry, data)
    return buffer.getvalue()


def send_zip(user: User, data: bytes, **fields: str) -> Any:
    return user.client.post(
        "/alignment/", files={"corpus": ("corpus.zip", data, "application/zip")}, data=fields
    )


def words_by_stem(user: User, job: dict[str, Any]) -> dict[str, list[tuple[str, float, float]]]:
    found: dict[str, list[tuple[str, float, float]]] = {}
    for f in job["files"]:
        response = user.client.get(
            f"/alignment/{job['id']}/result", params={"format": "json", "file_id": f["id"]}
        )
        assert response.status_code == 200, response.text
        words = response.json()["words"]
        found[str(PurePosixPath(f["audio_name"]).with_suffix(""))] = [
            (w["word"], w["start"], w["end"]) for w in words
        ]
    return found


def test_a_zip_corpus_aligns_like_the_same_files_sent_as_parts(user: User) -> None:
    zipped = send_zip(user, corpus_zip(), language="en")
    assert zipped.status_code == 202, zipped.text
    audio = sorted(n for n in CORPUS if n.endswith(".wav"))
    assert sorted(f["audio_name"] for f in zipped.json()["files"]) == audio
    assert sorted(f["text_name"] for f in zipped.json()["files"]) == [
        n.removesuffix(".wav") + ".txt" for n in audio
    ]
    parts = [
        ("audio_files[]" if name.endswith(".wav") else "text_files[]", (name, path.read_bytes()))
        for name, path in CORPUS.items()
    ]
    multipart = user.client.post("/alignment/", files=parts, data={"language": "en"})
    assert multipart.status_code == 202, multipart.text
    assert sorted(f["audio_name"] for f in multipart.json()["files"]) == audio

    from_zip = wait_for(user, zipped.json()["id"], timeout=300)
    from_parts = wait_for(user, multipart.json()["id"], timeout=300)
    assert from_zip["status"] == from_parts["status"] == "COMPLETED", (from_zip, from_parts)
    assert all(f["status"] == "ALIGNED" for f in from_zip["files"])
    zip_words, part_words = words_by_stem(user, from_zip), words_by_stem(user, from_parts)
    assert sorted(zip_words) == sorted(n.removesuffix(".wav") for n in audio)
    for stem, words in zip_words.items():
        assert words, stem
        assert [w for w, _, _ in words] == [w for w, _, _ in part_words[stem]], stem
        for (_, start, end), (_, start2, end2) in zip(words, part_words[stem], strict=True):
            assert (start, end) == pytest.approx((start2, end2), abs=0.001), stem

    listing = user.client.get(f"/alignment/{from_zip['id']}/files").json()
    assert sorted(f["audio_name"] for f in listing["items"]) == audio
    result = user.client.get(f"/alignment/{from_zip['id']}/result", params={"format": "textgrid"})
    assert result.status_code == 200 and result.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(result.content)).namelist()
    assert sorted(names) == [n.removesuffix(".wav") + ".TextGrid" for n in audio]


def bomb_10_gb() -> bytes:
    """A zip of about 10 MB whose one audio entry inflates to 10 GiB of zeros (zip64
    sizes). Deflate restarted every 16 MiB gives the same block each time, so the bomb is
    built from one block instead of compressing 10 GiB."""
    chunk, count = 16 << 20, 640
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(bytes(chunk)) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(chunk)) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = first + block * (count - 1) + deflate.flush()
    size, name = chunk * count, b"speaker1/bomb.wav"
    zip64 = struct.pack("<HHQQ", 1, 16, size, len(data))
    common = struct.pack("<HHHHIII", 0, 8, 0, 0x21, 0, 0xFFFFFFFF, 0xFFFFFFFF)
    local = b"PK\x03\x04" + struct.pack("<H", 45) + common + struct.pack("<HH", len(name), 20)
    local += name + zip64
    text = zipfile.ZipInfo("speaker1/bomb.txt")  # its pair, so that only the size refuses
    central = b"PK\x01\x02" + struct.pack("<HH", 45, 45) + common
    central += struct.pack("<HHHHHII", len(name), 20, 0, 0, 0, 0, 0) + name + zip64
    tail = io.BytesIO()
    with zipfile.ZipFile(tail, "w") as archive:
        archive.writestr(text, b"zeros")
    # The text entry's zip, moved after the bomb: its offsets shift by the bomb's length.
    text_zip = tail.getvalue()
    (directory_at,) = struct.unpack_from("<I", text_zip, len(text_zip) - 6)
    shift = len(local) + len(data)
    text_local, text_central = text_zip[:directory_at], bytearray(text_zip[directory_at:-22])
    struct.pack_into("<I", text_central, 42, shift)
    directory = central + bytes(text_central)
    end = b"PK\x05\x06" + struct.pack(
        "<HHHHIIH", 0, 0, 2, 2, len(directory), shift + len(text_local), 0
    )
    return local + data + text_local + directory + end


def symlink_zip() -> bytes:
    link = zipfile.ZipInfo("speaker1/passwd.wav")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return corpus_zip({link: b"/etc/passwd"})


HOSTILE = {
    "bomb": (bomb_10_gb, 422, "zip_bomb"),
    "small bomb": (lambda: corpus_zip({"speaker1/z.wav": bytes(7 << 20)}), 422, "zip_bomb"),
    "traversal": (lambda: corpus_zip({"../evil.wav": b"RIFF"}), 422, "zip_unsafe_path"),
    "absolute": (lambda: corpus_zip({"/var/evil.wav": b"RIFF"}), 422, "zip_unsafe_path"),
    "symlink": (symlink_zip, 422, "zip_symlink"),
    "nested zip": (
        lambda: corpus_zip({"speaker1/inner.zip": corpus_zip()}),
        422,
        "zip_nested_archive",
    ),
    "zip named wav": (
        lambda: corpus_zip({"speaker2/x.wav": corpus_zip(), "speaker2/x.txt": b"a zip"}),
        422,
        "zip_nested_archive",
    ),
    "duplicate stem": (
        lambda: corpus_zip({next(iter(CORPUS)).replace(".wav", ".flac"): b"fLaC" + bytes(99)}),
        422,
        "zip_duplicate_stem",
    ),
    "not a zip": (lambda: b"RIFF" + bytes(5000), 422, "zip_invalid"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_zip_is_refused_and_leaves_nothing(user: User, stack: Stack, kind: str) -> None:
    make, status, code = HOSTILE[kind]
    before = user.client.get("/alignment/", params={"limit": 100}).json()["items"]
    response = send_zip(user, make())
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert object_keys(stack, f"incoming/{user.id}/") == []
    after = user.client.get("/alignment/", params={"limit": 100}).json()["items"]
    assert len(after) == len(before)


def test_the_bomb_really_inflates_to_10_gib() -> None:
    """The hostile zip above is what it claims: zipfile reads it, a 10 MB file whose entry
    gives 10 GiB (its first MiB checked)."""
    data = bomb_10_gb()
    assert len(data) < 11 << 20
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("speaker1/bomb.wav")
        assert info.file_size == 10 << 30
        with archive.open(info) as member:
            assert member.read(1 << 20) == bytes(1 << 20)
        assert archive.read("speaker1/bomb.txt") == b"zeros"


def test_a_zip_with_an_unpaired_file_names_it(user: User, stack: Stack) -> None:
    response = send_zip(user, corpus_zip({"speaker2/alone.wav": b"RIFF" + bytes(100)}))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unmatched_files"
    assert error["details"] == {
        "audio_without_text": ["speaker2/alone.wav"],
        "text_without_audio": [],
    }
    assert object_keys(stack, f"incoming/{user.id}/") == []


def test_a_zip_and_parts_together_are_refused(user: User, stack: Stack) -> None:
    [(name, path), *_] = CORPUS.items()
    response = user.client.post(
        "/alignment/",
        files=[("corpus", ("c.zip", corpus_zip())), ("audio_files[]", (name, path.read_bytes()))],
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_upload"
    assert object_keys(stack, f"incoming/{user.id}/") == []
