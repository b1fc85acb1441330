"""``fa`` (clients/python) against the running system, as a user with a corpus runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import Stack
from tests.e2e.helpers import EVAL, User, user_on_plan

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"  # what new_user() registers with


def fa(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FA_")}
    env |= {"FA_CONFIG": str(config), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "fa_client", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def logged_in(stack: Stack, user: User, folder: Path) -> Path:
    config = folder / "fa.json"
    done = fa(
        config,
        "login",
        "--url",
        stack.url("gateway"),
        "--email",
        user.email,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    return config


def speaker_corpus(root: Path, files: int) -> list[str]:
    """TIMIT utterances as two speakers' folders, the same file names in both."""
    sources = sorted(p.with_suffix("") for p in (EVAL / "timit").glob("*.wav"))[:files]
    stems = []
    for i, source in enumerate(sources):
        stem = f"speaker{1 + i % 2}/utt{i // 2:02d}"
        (root / stem).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source.with_suffix(".wav"), root / f"{stem}.wav")
        shutil.copy(source.with_suffix(".txt"), root / f"{stem}.lab")
        stems.append(stem)
    return stems


def test_fa_align_writes_the_corpus_layout_and_a_second_run_uploads_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    # A plan of 8 files a job and 2 jobs at a time: the 30 files go as 4 jobs.
    user = user_on_plan(stack, max_files_per_job=8, max_concurrent_jobs=2)
    config = logged_in(stack, user, tmp_path)
    corpus, output = tmp_path / "corpus", tmp_path / "aligned"
    stems = speaker_corpus(corpus, 30)

    first = fa(config, "align", str(corpus), str(output), "--format", "textgrid,json")
    assert first.returncode == 0, first.stderr
    written = sorted(str(p.relative_to(output)) for p in output.rglob("*") if p.is_file())
    assert written == sorted(f"{s}{suffix}" for s in stems for suffix in (".TextGrid", ".json"))
    for stem in stems:
        assert 'class = "IntervalTier"' in (output / f"{stem}.TextGrid").read_text()
    jobs = user.client.get("/alignment/").json()["items"]
    assert len(jobs) == 4 and {j["status"] for j in jobs} == {"COMPLETED"}
    assert sorted(f["audio_name"] for j in jobs for f in j["files"]) == sorted(
        f"{s}.wav" for s in stems
    )

    again = fa(config, "align", str(corpus), str(output), "--format", "textgrid,json")
    assert again.returncode == 0, again.stderr
    assert "30 aligned already, 0 to do" in again.stderr
    assert len(user.client.get("/alignment/").json()["items"]) == 4  # nothing uploaded

    (output / f"{stems[3]}.TextGrid").unlink()  # one result lost: only its pair goes again
    third = fa(config, "align", str(corpus), str(output), "--format", "textgrid,json")
    assert third.returncode == 0, third.stderr
    assert "1 to do" in third.stderr and (output / f"{stems[3]}.TextGrid").exists()
    newest = user.client.get("/alignment/").json()["items"][0]
    assert [f["audio_name"] for f in newest["files"]] == [f"{stems[3]}.wav"]


def test_unpaired_and_non_audio_files_are_reported_and_the_exit_code_says_so(
    stack: Stack, tmp_path: Path
) -> None:
    user = user_on_plan(stack)
    config = logged_in(stack, user, tmp_path)
    corpus, output = tmp_path / "corpus", tmp_path / "aligned"
    [good] = speaker_corpus(corpus, 1)
    (corpus / "speaker1" / "lonely.wav").write_bytes((corpus / f"{good}.wav").read_bytes())
    (corpus / "speaker2").mkdir()
    (corpus / "speaker2" / "notes.wav").write_text("these are my notes, not audio\n" * 50)
    (corpus / "speaker2" / "notes.txt").write_text("these are my notes\n")

    done = fa(config, "align", str(corpus), str(output))
    assert done.returncode == 1, done.stderr
    assert "speaker1/lonely.wav" in done.stderr and "no transcript" in done.stderr
    assert "speaker2/notes.wav" in done.stderr and "rejected" in done.stderr
    assert (output / f"{good}.TextGrid").exists()
    assert not (output / "speaker2").exists()


def test_status_jobs_quota_and_a_bad_credential(stack: Stack, tmp_path: Path) -> None:
    user = user_on_plan(stack)
    config = logged_in(stack, user, tmp_path)
    quota = fa(config, "quota")
    assert quota.returncode == 0 and "minutes this month" in quota.stdout
    assert fa(config, "jobs").returncode == 0
    missing = fa(config, "status", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "job_not_found" in missing.stderr
    nobody = fa(tmp_path / "nobody.json", "jobs")
    assert nobody.returncode == 1 and "fa login" in nobody.stderr


def test_an_api_key_from_the_environment_or_login_is_used(stack: Stack, tmp_path: Path) -> None:
    user = user_on_plan(stack)
    key = user.client.post("/api-keys", json={"name": "cli", "scope": "read"})
    assert key.status_code == 201, key.text
    config = tmp_path / "fa.json"
    login = fa(config, "login", "--url", stack.url("gateway"), "--api-key", key.json()["key"])
    assert login.returncode == 0, login.stderr
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    assert fa(config, "quota").returncode == 0
    corpus = tmp_path / "corpus"
    speaker_corpus(corpus, 1)
    refused = fa(config, "align", str(corpus), str(tmp_path / "out"))  # a read key
    assert refused.returncode == 1 and "insufficient_scope" in refused.stderr


def test_register_then_login_from_the_command_line(stack: Stack, tmp_path: Path) -> None:
    config, email = tmp_path / "fa.json", f"cli-{os.getpid()}-{id(tmp_path)}@example.org"
    url = stack.url("gateway")
    made = fa(
        config, "register", "--url", url, "--email", email, "--password-stdin", stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    again = fa(
        config, "register", "--url", url, "--email", email, "--password-stdin", stdin=PASSWORD
    )
    assert again.returncode == 1 and "email_taken" in again.stderr
    login = fa(config, "login", "--url", url, "--email", email, "--password-stdin", stdin=PASSWORD)
    assert login.returncode == 0, login.stderr
    assert "free" in fa(config, "quota").stdout
