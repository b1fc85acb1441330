"""A real job through all five services: submit, store, align, download, play, isolate."""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import wave
import zipfile
from pathlib import Path
from typing import Any

import pytest
from praatio import textgrid

from devstack import Stack
from tests.e2e.helpers import EVAL, User, eval_pair, new_user, submit, wait_for

pytestmark = pytest.mark.e2e

CORPUS = ("timit/dr4-falr0_sx65", "timit/dr4-falr0_si695")


@pytest.fixture(scope="module")
def owner(stack: Stack) -> User:
    return new_user(stack)


@pytest.fixture(scope="module")
def completed(owner: User) -> dict[str, Any]:
    response = submit(owner, *(eval_pair(name) for name in CORPUS))
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/alignment/{response.json()['id']}"
    assert response.json()["status"] == "PENDING"
    job = wait_for(owner, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    assert job["progress"] == 100
    return job


def reference_words(name: str) -> list[dict[str, Any]]:
    words: list[dict[str, Any]] = json.loads((EVAL / f"{name}.words.json").read_text())
    return words


def test_every_file_is_aligned_with_its_duration(owner: User, completed: dict[str, Any]) -> None:
    files = owner.client.get(f"/alignment/{completed['id']}/files").json()
    assert files["count"] == 2 == len(files["items"])
    for item, name in zip(files["items"], CORPUS, strict=True):
        assert item["status"] == "ALIGNED"
        assert item["audio_name"] == Path(name).name + ".wav"
        with wave.open(str(EVAL / f"{name}.wav")) as source:
            assert item["duration"] == pytest.approx(
                source.getnframes() / source.getframerate(), abs=0.01
            )


def test_word_boundaries_match_the_hand_labels(owner: User, completed: dict[str, Any]) -> None:
    errors: list[float] = []
    for item, name in zip(completed["files"], CORPUS, strict=True):
        response = owner.client.get(
            f"/alignment/{completed['id']}/result", params={"format": "json", "file_id": item["id"]}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert {"file_id", "words", "phones", "oov", "quality"} <= set(result)
        reference = reference_words(name)
        assert [w["word"].lower() for w in result["words"]] == [
            w["word"].lower() for w in reference
        ]
        for got, want in zip(result["words"], reference, strict=True):
            errors += [abs(got["start"] - want["start"]), abs(got["end"] - want["end"])]
        assert result["phones"] and all(p["end"] > p["start"] for p in result["phones"])
        assert not result["quality"]["low_quality"]
    assert statistics.mean(errors) < 0.050, (
        f"mean word-boundary error {statistics.mean(errors):.3f} s"
    )


def test_textgrids_open_with_word_and_phone_tiers(owner: User, completed: dict[str, Any]) -> None:
    for item in completed["files"]:
        response = owner.client.get(
            f"/alignment/{completed['id']}/result",
            params={"format": "textgrid", "file_id": item["id"]},
        )
        assert response.status_code == 200
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "result.TextGrid"
            path.write_bytes(response.content)
            grid = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
        assert grid.tierNames == ("words", "phones")
        assert len(grid.getTier("words").entries) == item["word_count"]
        assert len(grid.getTier("phones").entries) > item["word_count"]


def test_the_corpus_result_is_a_zip_of_every_file(owner: User, completed: dict[str, Any]) -> None:
    response = owner.client.get(
        f"/alignment/{completed['id']}/result", params={"format": "textgrid"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == sorted(f"{Path(n).name}.TextGrid" for n in CORPUS)


def test_a_segment_is_exactly_the_span_asked_for(owner: User, completed: dict[str, Any]) -> None:
    file_id = completed["files"][0]["id"]
    for start, end in [(0.5, 1.25), (0.0, 0.0101), (1.2345, 2.0)]:
        response = owner.client.get(
            f"/alignment/{completed['id']}/audio/segment",
            params={"start": start, "end": end, "file_id": file_id},
        )
        assert response.status_code == 200, response.text
        with wave.open(io.BytesIO(response.content)) as segment:
            assert segment.getframerate() == 16000 and segment.getnchannels() == 1
            assert abs(segment.getnframes() / 16000 - (end - start)) < 0.001


@pytest.mark.parametrize(
    ("start", "end"), [(2.0, 1.0), (1.0, 1.0), (-1.0, 1.0), (0.0, 999.0), (0.0, "nan")]
)
def test_impossible_segments_are_422(
    owner: User, completed: dict[str, Any], start: float, end: float | str
) -> None:
    response = owner.client.get(
        f"/alignment/{completed['id']}/audio/segment",
        params={"start": start, "end": end, "file_id": completed["files"][0]["id"]},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] in {"invalid_segment", "validation_error"}


def test_audio_download_honours_range(owner: User, completed: dict[str, Any]) -> None:
    path = f"/alignment/{completed['id']}/download/audio"
    params = {"file_id": completed["files"][0]["id"]}
    whole = owner.client.get(path, params=params)
    assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
    part = owner.client.get(path, params=params, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-1099/{len(whole.content)}"
    assert part.content == whole.content[100:1100]
    tail = owner.client.get(path, params=params, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    beyond = owner.client.get(
        path, params=params, headers={"Range": f"bytes={len(whole.content)}-"}
    )
    assert beyond.status_code == 416


def test_jobs_are_listed_newest_first_with_paging(owner: User, completed: dict[str, Any]) -> None:
    first = owner.client.get("/alignment/", params={"limit": 1}).json()
    assert len(first["items"]) == 1
    seen = [first["items"][0]["id"]]
    cursor = first["next_cursor"]
    while cursor:
        page = owner.client.get("/alignment/", params={"limit": 1, "cursor": cursor}).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
    assert completed["id"] in seen and len(seen) == len(set(seen))
    done = owner.client.get("/alignment/", params={"status": "COMPLETED", "limit": 100}).json()
    assert all(j["status"] == "COMPLETED" for j in done["items"])
    assert owner.client.get("/alignment/", params={"cursor": "garbage"}).status_code == 422


def test_another_user_sees_none_of_it(stack: Stack, completed: dict[str, Any]) -> None:
    stranger = new_user(stack)
    job, file_id = completed["id"], completed["files"][0]["id"]
    for path, params in [
        (f"/alignment/{job}", {}),
        (f"/alignment/{job}/files", {}),
        (f"/alignment/{job}/result", {"format": "json", "file_id": file_id}),
        (f"/alignment/{job}/result", {"format": "textgrid"}),
        (f"/alignment/{job}/download/audio", {"file_id": file_id}),
        (f"/alignment/{job}/audio/segment", {"start": 0, "end": 1, "file_id": file_id}),
    ]:
        response = stranger.client.get(path, params=params)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "job_not_found"
    assert stranger.client.get("/alignment/").json()["items"] == []


def test_an_idempotency_key_returns_the_same_job(owner: User) -> None:
    pair = eval_pair(CORPUS[0])
    headers = {"Idempotency-Key": "retry-me-once"}
    first = owner.client.post("/alignment/", files=_files(pair), headers=headers)
    again = owner.client.post("/alignment/", files=_files(pair), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]


def _files(pair: tuple[str, bytes, str, bytes]) -> list[tuple[str, tuple[str, bytes]]]:
    return [("audio_files[]", (pair[0], pair[1])), ("text_files[]", (pair[2], pair[3]))]


@pytest.mark.parametrize("fmt", ["csv", "srt", "vtt"])
def test_tabular_and_subtitle_formats_come_from_the_same_result(
    owner: User, completed: dict[str, Any], fmt: str
) -> None:
    path = f"/alignment/{completed['id']}/result"
    item = completed["files"][0]
    words = owner.client.get(path, params={"format": "json", "file_id": item["id"]}).json()["words"]
    response = owner.client.get(path, params={"format": fmt, "file_id": item["id"]})
    assert response.status_code == 200, response.text
    body = response.text
    if fmt == "csv":
        assert body.splitlines()[0] == "file,tier,start,end,label"
        assert sum(line.split(",")[1] == "words" for line in body.splitlines()[1:]) == len(words)
    else:
        assert body.startswith("WEBVTT") if fmt == "vtt" else body.startswith("1\n")
        assert all(w["word"] in body for w in words)
    corpus = owner.client.get(path, params={"format": fmt, "level": "sentence"})
    assert corpus.headers["content-type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(corpus.content)).namelist()) == 2


def test_validate_checks_the_texts_without_aligning(owner: User) -> None:
    audio_name, audio, text_name, _ = eval_pair(CORPUS[0])
    transcript = b"Hello gruffalo, the zyzzyva of Kubernetes"
    response = owner.client.post(
        "/alignment/",
        files=[("audio_files[]", (audio_name, audio)), ("text_files[]", (text_name, transcript))],
        data={"validate": "true"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["options"] == {"validate": True}
    job = wait_for(owner, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    report = owner.client.get(f"/alignment/{job['id']}/result", params={"format": "json"}).json()
    assert report["words_total"] == 6
    assert {"gruffalo", "zyzzyva", "kubernetes"} <= set(report["oov"])
    assert "words" not in report  # nothing was aligned
    textgrid_response = owner.client.get(
        f"/alignment/{job['id']}/result", params={"format": "textgrid"}
    )
    assert textgrid_response.status_code == 409
    assert textgrid_response.json()["error"]["code"] == "validation_only"
