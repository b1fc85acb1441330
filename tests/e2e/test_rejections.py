"""Every way an upload can be wrong gets a clear answer, and leaves nothing behind."""

from __future__ import annotations

import io
import random
import struct
import wave
from typing import Any

import httpx
import pytest

from devstack import Stack
from devstack.testing import TEST_MAX_FILE_BYTES
from tests.e2e.helpers import (
    User,
    eval_pair,
    eventually,
    new_user,
    object_keys,
    submit,
    wait_for,
)

pytestmark = pytest.mark.e2e

GOOD = "timit/dr4-falr0_sx65"


@pytest.fixture(scope="module")
def user(stack: Stack) -> User:
    return new_user(stack)


def wav_of(samples: list[int]) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buffer.getvalue()


def rejected_file(user: User, *pairs: tuple[str, bytes, str, bytes]) -> dict[str, Any]:
    response = submit(user, *pairs)
    assert response.status_code == 202, response.text
    return wait_for(user, response.json()["id"], timeout=60)


def test_a_text_file_named_wav_is_refused_for_its_content(user: User) -> None:
    job = rejected_file(
        user, ("speech.wav", b"This is not audio at all.\n" * 20, "speech.txt", b"hello")
    )
    assert job["status"] == "FAILED"
    [file] = job["files"]
    assert file["status"] == "REJECTED"
    assert file["error"] == "audio_files[0] 'speech.wav' could not be decoded as audio"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"", "has no words to align"),
        (b"  \n\t ...  \n", "has no words to align"),
        (b"\xff\xfe\x00h\x00i", "is not UTF-8 text"),
        (b"%PDF-1.7 binary", "is a pdf file, not a transcript"),
    ],
)
def test_a_transcript_without_usable_text_is_refused(user: User, text: bytes, reason: str) -> None:
    audio_name, audio, _, _ = eval_pair(GOOD)
    job = rejected_file(user, (audio_name, audio, "dr4-falr0_sx65.txt", text))
    [file] = job["files"]
    assert file["status"] == "REJECTED", file
    assert (
        file["error"].startswith("text_files[0] 'dr4-falr0_sx65.txt' ") and reason in file["error"]
    )


def test_a_utf8_bom_is_fine(user: User) -> None:
    audio_name, audio, text_name, text = eval_pair(GOOD)
    job = rejected_file(user, (audio_name, audio, text_name, b"\xef\xbb\xbf" + text))
    assert job["status"] == "COMPLETED", job


def test_one_bad_pair_does_not_sink_its_siblings(user: User) -> None:
    job = rejected_file(user, eval_pair(GOOD), ("noise.wav", b"\x00" * 10, "noise.txt", b"hello"))
    assert job["status"] == "COMPLETED"
    assert [f["status"] for f in job["files"]] == ["ALIGNED", "REJECTED"]


def test_mismatched_stems_are_422_naming_the_files(user: User, stack: Stack) -> None:
    audio_name, audio, _, text = eval_pair(GOOD)
    response = submit(user, (audio_name, audio, "other.txt", text))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "unmatched_files"
    assert error["details"] == {
        "audio_without_text": [audio_name],
        "text_without_audio": ["other.txt"],
    }
    assert object_keys(stack, f"incoming/{user.id}/") == []


def test_a_file_over_the_limit_is_413_while_streaming_and_leaves_nothing(
    user: User, stack: Stack
) -> None:
    big = bytes(TEST_MAX_FILE_BYTES + 1)
    response = submit(user, eval_pair(GOOD), ("big.wav", big, "big.txt", b"hello"))
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert str(TEST_MAX_FILE_BYTES) in response.json()["error"]["message"]
    assert object_keys(stack, f"incoming/{user.id}/") == []


@pytest.mark.parametrize(
    ("files", "data"),
    [
        ([], {}),
        ([("text_files[]", ("a.txt", b"hello"))], {}),
        (
            [("audio_files[]", ("a.wav", b"x")), ("text_files[]", ("a.txt", b"x"))],
            {"language": "no such"},
        ),
        ([("notes[]", ("a.txt", b"x"))], {}),
    ],
)
def test_malformed_submissions_are_422(
    user: User, files: list[tuple[str, tuple[str, bytes]]], data: dict[str, str]
) -> None:
    response = user.client.post("/alignment/", files=files or None, data=data or {"language": "en"})
    assert response.status_code == 422, response.text


def test_a_json_body_is_not_an_upload(user: User) -> None:
    response = user.client.post("/alignment/", json={"audio": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_upload"


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_or_noise_ends_aligned_or_failed_with_a_reason(user: User, kind: str) -> None:
    rng = random.Random(7)
    samples = [0] * 32000 if kind == "silence" else [rng.randint(-8000, 8000) for _ in range(32000)]
    job = rejected_file(user, (f"{kind}.wav", wav_of(samples), f"{kind}.txt", b"hello world"))
    [file] = job["files"]
    assert job["status"] in {"COMPLETED", "FAILED"}
    if file["status"] != "ALIGNED":
        assert file["status"] == "FAILED" and file["error"]


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        (
            {"engine": "mfa"},
            "engine_unavailable",
            "Montreal Forced Aligner is not available on this worker",
        ),
        ({"engine": "no-such-engine"}, "unknown_engine", "no engine named 'no-such-engine'"),
        ({"language": "xx"}, "unsupported_language", "'xx' cannot be aligned by any engine"),
    ],
)
def test_an_engine_that_cannot_do_the_job_is_refused_with_the_reason(
    stack: Stack, user: User, data: dict[str, str], code: str, reason: str
) -> None:
    """Refused at once (422) once the aligner has announced what it can do; before that
    (a new deployment) the job would be accepted and fail with the same reason."""
    heard = stack.url("gateway") + "/api/v1/engines"
    eventually(
        lambda: any(e["available"] for e in httpx.get(heard).json()["items"]),
        "the aligner never announced its engines",
        60,
    )
    response = submit(user, eval_pair(GOOD), **data)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert reason in response.json()["error"]["message"]
