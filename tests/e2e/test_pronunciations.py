"""Pronunciations users control: a job's dictionary part extends or overrides the
engine's, and results name every word whose pronunciation was guessed."""

from __future__ import annotations

from typing import Any

import pytest

from devstack import Stack
from tests.e2e.helpers import User, eval_pair, new_user, object_keys, pair_files, wait_for

pytestmark = pytest.mark.e2e

GOOD = "timit/dr4-falr0_sx65"  # "Challenge each general's intelligence."
DICTIONARY = b";;; ours\ngeneral's JH EH1 N R AH0 L Z\nzyzzyva Z IH Z AH V AH\n"


@pytest.fixture(scope="module")
def user(stack: Stack) -> User:
    return new_user(stack)


def submit_with(
    user: User, pair: tuple[str, bytes, str, bytes], dictionary: bytes, **data: str
) -> Any:
    files = [*pair_files(pair), ("dictionary", ("ours.dict", dictionary))]
    return user.client.post("/alignment/", files=files, data=data)


def test_the_jobs_pronunciation_is_the_one_aligned(user: User) -> None:
    response = submit_with(user, eval_pair(GOOD), DICTIONARY)
    assert response.status_code == 202, response.text
    assert response.json()["options"] == {"dictionary_words": 2}
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    result = user.client.get(f"/alignment/{job['id']}/result", params={"format": "json"}).json()
    assert [w["word"] for w in result["words"]] == [
        "Challenge",
        "each",
        "general's",
        "intelligence",
    ]
    assert result["from_job_dictionary"] == ["general's"]
    assert [p["phone"] for p in result["phones"] if p["word_index"] == 2] == [
        "JH", "EH", "N", "R", "AH", "L", "Z",
    ]  # fmt: skip
    assert result["guessed"] == []  # every other word is in the engine's dictionary


def test_validation_names_guessed_words_with_their_pronunciation(user: User) -> None:
    audio_name, audio, text_name, _ = eval_pair(GOOD)
    transcript = b"Hello gruffalo, the zyzzyva of Kubernetes"
    response = submit_with(
        user, (audio_name, audio, text_name, transcript), DICTIONARY, validate="true"
    )
    job = wait_for(user, response.json()["id"])
    assert job["status"] == "COMPLETED", job
    report = user.client.get(f"/alignment/{job['id']}/result", params={"format": "json"}).json()
    assert report["from_job_dictionary"] == ["zyzzyva"]
    assert "zyzzyva" not in report["oov"]
    guessed = {g["word"]: g["phones"] for g in report["guessed"]}
    assert set(guessed) == {"gruffalo", "kubernetes"}
    assert guessed["gruffalo"][0] == "G"


def test_a_malformed_dictionary_is_422_and_leaves_nothing(stack: Stack) -> None:
    user = new_user(stack)
    response = submit_with(user, eval_pair(GOOD), b"fine F AY N\nbroken\nodd OW Q\n")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_dictionary"
    assert [line["line"] for line in error["details"]["lines"]] == [2, 3]
    assert user.client.get("/alignment/").json()["items"] == []
    assert object_keys(stack, f"incoming/{user.id}/") == []


def test_a_dictionary_no_engine_would_use_is_422(user: User) -> None:
    response = submit_with(user, eval_pair(GOOD), DICTIONARY, language="de")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "dictionary_not_supported"
