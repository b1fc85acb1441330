"""Which languages and engines exist (announced by the aligners), a job nobody could align
refused at once, and minutes paid only for audio that was aligned."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from aligner_service.engines.catalog import ACCURACY
from devstack import Stack
from tests.e2e.helpers import (
    EVAL,
    User,
    counted_usage,
    eval_pair,
    eventually,
    new_user,
    object_keys,
    query,
    submit,
    usage,
    wait_for,
)

pytestmark = pytest.mark.e2e

GOOD = "timit/dr4-falr0_sx65"


def api(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.url("gateway") + "/api/v1", timeout=30)


@pytest.fixture(scope="module")
def engines(stack: Stack) -> dict[str, dict[str, Any]]:
    """/engines once the gateway has heard from the aligner (it announces at start)."""
    deadline = time.monotonic() + 60
    with api(stack) as client:
        while True:
            listed = client.get("/engines")
            assert listed.status_code == 200, listed.text
            found = {e["name"]: e for e in listed.json()["items"]}
            if found.get("pocketsphinx", {}).get("available"):
                return found
            assert time.monotonic() < deadline, f"the aligner never announced: {listed.text}"
            time.sleep(0.5)


def refused(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def nothing_left(stack: Stack, user: User) -> None:
    assert user.client.get("/alignment/").json()["items"] == []
    assert object_keys(stack, f"incoming/{user.id}/") == []
    assert usage(user)["storage_bytes_reserved"] == 0


def test_engines_are_listed_with_what_they_do_and_how_well(
    engines: dict[str, dict[str, Any]],
) -> None:
    sphinx = engines["pocketsphinx"]
    assert sphinx["available"] and sphinx["phones"] and sphinx["default"]
    assert "en" in sphinx["languages"]
    assert sphinx["replicas"] == 1
    [timit, *_] = sphinx["accuracy"]
    measured = ACCURACY["pocketsphinx"][0]  # what the aligner's catalog says, as announced
    assert timit["mean_error_ms"] == measured.mean_error_ms > 0
    assert timit["within_ms"]["50"] == measured.within_ms[50]
    assert timit["source"].startswith("docs/benchmarks.md")
    phones = engines["espeak-phones"]
    assert phones["available"] and phones["phones"] and {"de", "nan"} <= set(phones["languages"])
    assert phones["accuracy"][0]["mean_error_ms"] == ACCURACY["espeak-phones"][0].mean_error_ms
    dtw = engines["tts-dtw"]
    assert dtw["available"] and not dtw["phones"] and "de" in dtw["languages"]
    if not engines.get("mfa", {}).get("available", True):  # MFA is not installed here
        assert engines["mfa"]["reason"]


def test_languages_are_listed_without_a_token(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    with api(stack) as client:
        listed = client.get("/languages")
    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"].startswith("public")
    languages = {lang["code"]: lang for lang in listed.json()["items"]}
    assert languages["en"]["name"] == "English"
    assert {"pocketsphinx", "tts-dtw"} <= set(languages["en"]["engines"])
    assert languages["en"]["phones"] is True
    assert languages["de"]["engines"] == ["espeak-phones", "tts-dtw"]
    assert languages["de"]["phones"] is True  # espeak-phones: the English model's phones
    assert listed.json()["count"] == len(languages) > 50


def test_an_unknown_language_is_422_and_leaves_nothing(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    error = refused(submit(user, eval_pair(GOOD), language="xx"), "unsupported_language")
    assert "en" in error["details"]["languages"]
    assert "/languages" in error["message"]
    nothing_left(stack, user)


def test_an_unknown_engine_is_422(stack: Stack, engines: dict[str, dict[str, Any]]) -> None:
    user = new_user(stack)
    error = refused(submit(user, eval_pair(GOOD), engine="no-such-engine"), "unknown_engine")
    assert "pocketsphinx" in error["details"]["engines"]
    nothing_left(stack, user)


def test_an_engine_that_does_not_speak_the_language_is_422(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    error = refused(
        submit(user, eval_pair(GOOD), engine="pocketsphinx", language="de"), "unsupported_language"
    )
    assert error["details"]["languages"] == ["en"]
    nothing_left(stack, user)


def test_a_validate_job_leaves_minutes_unchanged(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    before = usage(user)["audio_minutes_used"]
    job = wait_for(user, submit(user, eval_pair(GOOD), validate="true").json()["id"])
    assert job["status"] == "COMPLETED", job
    after = counted_usage(user)  # its bytes are counted: storage's FilesStored was settled
    assert after["audio_minutes_used"] == before == 0.0
    # An alignment of the same pair does count.
    aligned = wait_for(user, submit(user, eval_pair(GOOD)).json()["id"])
    assert aligned["status"] == "COMPLETED", aligned
    assert usage(user)["audio_minutes_used"] > 0.03


def one_second_of(name: str) -> bytes:
    with wave.open(str((EVAL / name).with_suffix(".wav"))) as source:
        frames = source.readframes(source.getframerate())
        params = source.getparams()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setparams(params)
        out.writeframes(frames)
    return buffer.getvalue()


def test_a_file_that_fails_alignment_gives_its_minutes_back(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    # A second of speech cannot hold a hundred words: the engine fails that file.
    crowded = ("the quick brown fox jumps over the lazy dog " * 12).encode()
    response = submit(
        user, eval_pair(GOOD), ("crowded.wav", one_second_of(GOOD), "crowded.txt", crowded)
    )
    job = wait_for(user, response.json()["id"])
    statuses = {f["audio_name"]: f["status"] for f in job["files"]}
    assert statuses == {"dr4-falr0_sx65.wav": "ALIGNED", "crowded.wav": "FAILED"}, job
    files = user.client.get(f"/alignment/{job['id']}/files").json()["items"]
    [aligned] = [f["duration"] for f in files if f["status"] == "ALIGNED"]
    expected = round(aligned / 60, 2)
    eventually(
        lambda: usage(user)["audio_minutes_used"] == expected,
        f"the failed file's minutes still count: {usage(user)} (expected {expected})",
    )


def test_before_any_aligner_is_heard_a_job_is_accepted_and_fails_later(
    stack: Stack, engines: dict[str, dict[str, Any]], paused_aligner: Callable[[int], None]
) -> None:
    """A new deployment: no announcement yet, so nothing is refused at the door; the
    aligner refuses the job itself, and its minutes come back."""
    query(stack, "gateway", "DELETE FROM engine_offers")
    with api(stack) as client:
        eventually(lambda: client.get("/engines").json()["items"] == [], "offers still served")
    user = new_user(stack)
    response = submit(user, eval_pair(GOOD), language="xx")
    assert response.status_code == 202, response.text
    paused_aligner(300)
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "FAILED"
    assert "does not align language 'xx'" in job["files"][0]["error"]
    eventually(
        lambda: usage(user)["audio_minutes_used"] == 0.0 and usage(user)["storage_bytes_used"] > 0,
        f"the refused job's minutes still count: {usage(user)}",
    )


GERMAN = "emuwebapp_de/ichmalemitherrndunnerer"
CZECH_IPA = "voxangeles/ces-004-011"


@pytest.mark.skipif(not (EVAL / "emuwebapp_de").exists(), reason="the evaluation set is absent")
def test_a_german_job_returns_words_and_ipa_phones(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    response = submit(user, eval_pair(GERMAN), language="de")
    assert response.status_code == 202, response.text
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    result = user.client.get(f"/alignment/{job['id']}/result", params={"format": "json"}).json()
    assert result["engine"] == "espeak-phones"
    assert [w["word"] for w in result["words"]] == ["ich", "male", "mit", "herrn", "dunnerer"]
    assert {"m", "ɪ", "ç"} <= {p["phone"] for p in result["phones"]}  # noqa: RUF001 (IPA)


@pytest.mark.skipif(not (EVAL / "voxangeles").exists(), reason="the evaluation set is absent")
def test_an_ipa_transcript_is_aligned_phone_by_phone(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    response = submit(user, eval_pair(CZECH_IPA), language="cs", transcript_format="ipa")
    assert response.status_code == 202, response.text
    assert response.json()["options"]["transcript_format"] == "ipa"
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    result = user.client.get(f"/alignment/{job['id']}/result", params={"format": "json"}).json()
    assert [p["phone"] for p in result["phones"]] == ["v", "aː", "t͡ʃ", "ɛ", "k"]  # noqa: RUF001


def test_an_unknown_transcript_format_is_422(
    stack: Stack, engines: dict[str, dict[str, Any]]
) -> None:
    user = new_user(stack)
    refused(submit(user, eval_pair(GOOD), transcript_format="sampa"), "invalid_submission")
    nothing_left(stack, user)
