"""``devstack smoke URL``: is this deployment alive, end to end, within a minute?

1. every service's ``/readyz`` answers 200: the gateway at URL, the others at
   ``--service NAME=URL``, or else on URL's host at their ``make dev`` ports (8001-8005);
   ``--gateway-only`` where only the gateway is reachable (an ingress);
2. a new user signs up and logs in;
3. one short pair (a sentence spoken by espeak-ng, or ``--audio``/``--text``) is submitted
   and reaches COMPLETED;
4. its JSON result downloads and has the sentence's words;
5. the user is deleted again (with its files), so smoke runs leave nothing behind.

Each step prints one line; the first failure prints what failed and exits 1.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from devstack.config import DEFAULT_PORTS
from fa_client import Client, UploadFile
from fa_client.client import ApiError

__all__ = ["SENTENCE", "SmokeFailed", "run_smoke", "service_urls"]

SENTENCE = "the quick brown fox jumps over the lazy dog"
PASSWORD = "smoke test password " + "x" * 8
T = TypeVar("T")


class SmokeFailed(Exception):
    pass


def service_urls(
    url: str, given: Sequence[str] = (), *, gateway_only: bool = False
) -> dict[str, str]:
    """Where each service's ``/readyz`` is: the gateway at ``url``; the rest as given
    (``auth=http://host:8001``), else on ``url``'s host at their ``make dev`` ports."""
    urls = {"gateway": url.rstrip("/")}
    if gateway_only:
        return urls
    host = urlsplit(url).hostname or "127.0.0.1"
    for service, port in DEFAULT_PORTS.items():
        urls.setdefault(service, f"http://{host}:{port}")
    for item in given:
        name, sep, where = item.partition("=")
        if not sep or name not in DEFAULT_PORTS:
            raise SmokeFailed(f"--service {item!r}: give NAME=URL, NAME one of {list(urls)}")
        urls[name] = where.rstrip("/")
    return urls


def run_smoke(
    urls: dict[str, str],
    *,
    audio: Path | None = None,
    text: Path | None = None,
    timeout: float = 60.0,
) -> None:
    deadline = time.monotonic() + timeout
    for service, base in urls.items():
        _step(f"{service} ready at {base}/readyz", partial(_ready, base))
    with tempfile.TemporaryDirectory(prefix="smoke-") as folder:
        if audio is None or text is None:
            audio, text = _spoken(Path(folder))
        email = f"smoke-{secrets.token_hex(6)}@example.org"
        with Client(urls["gateway"], timeout=30, max_attempts=3) as client:
            _step(f"sign up and log in as {email}", lambda: _sign_up(client, email))
            try:
                _job(client, audio, text, deadline)
            finally:
                _step("delete the smoke user", lambda: _delete_user(client))


def _job(client: Client, audio: Path, text: Path, deadline: float) -> None:
    files = [
        UploadFile("audio_files", audio.name, audio),
        UploadFile("text_files", text.name, text),
    ]
    job = _step("submit one short pair", lambda: client.submit(files))
    left = max(deadline - time.monotonic(), 1.0)
    done = _step(
        f"job {job.id} COMPLETED",
        lambda: client.wait(job.id, poll_seconds=0.5, timeout=left),
    )
    if done.status != "COMPLETED":
        raise SmokeFailed(f"job {job.id} ended {done.status}: {done.error or done.files}")
    file_id = done.files[0].id
    words = _step("download the result", lambda: _words(client.result(job.id, file_id)))
    expected = text.read_text().split()
    if len(words) != len(expected):
        raise SmokeFailed(f"the result has {len(words)} words, the text {len(expected)}")


def _step(what: str, action: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        result = action()
    except SmokeFailed:
        raise
    except (ApiError, httpx.HTTPError, TimeoutError, OSError, ValueError) as exc:
        raise SmokeFailed(f"{what}: {type(exc).__name__}: {exc}") from exc
    print(f"ok   {what} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)
    return result


def _ready(base: str) -> None:
    answer = httpx.get(base + "/readyz", timeout=5)
    if answer.status_code != 200:
        raise SmokeFailed(f"{base}/readyz answered {answer.status_code}: {answer.text[:300]}")


def _sign_up(client: Client, email: str) -> None:
    client.register(email, PASSWORD)
    client.login(email, PASSWORD)


def _delete_user(client: Client) -> None:
    token = client.credentials.access_token
    answer = httpx.delete(
        client.url + "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    if answer.status_code >= 400:
        raise SmokeFailed(f"DELETE /users/me answered {answer.status_code}: {answer.text[:300]}")


def _words(body: bytes) -> list[object]:
    words = json.loads(body).get("words")
    if not isinstance(words, list) or not words:
        raise SmokeFailed(f"the result has no words: {body[:300]!r}")
    return words


def _spoken(folder: Path) -> tuple[Path, Path]:
    """A WAV of SENTENCE by espeak-ng, and its transcript."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SmokeFailed("no espeak-ng to make the test audio: give --audio and --text")
    audio, text = folder / "smoke.wav", folder / "smoke.txt"
    subprocess.run([espeak, "-w", str(audio), SENTENCE], check=True, capture_output=True)
    text.write_text(SENTENCE + "\n")
    return audio, text


def main(
    url: str,
    given: Sequence[str],
    *,
    gateway_only: bool,
    audio: Path | None,
    text: Path | None,
    timeout: float,
) -> int:
    started = time.monotonic()
    try:
        run_smoke(
            service_urls(url, given, gateway_only=gateway_only),
            audio=audio,
            text=text,
            timeout=timeout,
        )
    except SmokeFailed as exc:
        print(f"SMOKE FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"smoke passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0
