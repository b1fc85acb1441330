"""The client against a real HTTP server on loopback that answers as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fa_client.client import ApiError, Client, Credentials, UploadFile

JOB = {"id": "j1", "status": "PENDING", "progress": 0, "created_at": "2026-11-30T10:00:00Z"}


class Script:
    """What the server answers, in order; and what it was asked."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], object]] = []
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            script.requests.append((self.command, self.path, dict(self.headers), body))
            status, headers, payload = script.answers.pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer  # noqa: N815 - http.server's names

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()


def unbounded(request: tuple[str, str, dict[str, str], bytes]) -> bytes:
    boundary = request[2]["Content-Type"].split("boundary=")[1].encode()
    return request[3].replace(boundary, b"BOUNDARY")


def busy(seconds: str) -> tuple[int, dict[str, str], object]:
    error = {"error": {"code": "service_unavailable", "message": "later", "details": None}}
    return 503, {"Retry-After": seconds}, error


def test_503_and_429_are_retried_after_their_retry_after(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [busy("2"), (429, {"Retry-After": "1"}, {}), (200, {}, JOB)]
    waits: list[float] = []
    with Client(url, Credentials(access_token="t"), sleep=waits.append) as client:
        assert client.job("j1").id == "j1"
    assert waits == [2.0, 1.0]
    assert all(r[2]["Authorization"] == "Bearer t" for r in script.requests)


def test_an_upload_is_sent_whole_again_with_the_same_idempotency_key(
    server: tuple[str, Script], tmp_path: Path
) -> None:
    url, script = server
    (tmp_path / "a.wav").write_bytes(b"RIFF" + b"\0" * 100)
    (tmp_path / "a.txt").write_text("hello")
    script.answers = [busy("0"), (202, {}, JOB)]
    sent: list[int] = []
    files = [
        UploadFile("audio_files", "spk/a.wav", tmp_path / "a.wav"),
        UploadFile("text_files", "spk/a.txt", tmp_path / "a.txt"),
    ]
    with Client(url, Credentials(api_key="fa_k"), sleep=lambda _: None) as client:
        job = client.submit(files, language="en", idempotency_key="k-1", on_sent=sent.append)
    assert job.status == "PENDING"
    first, second = script.requests
    # The same body (but for its random boundary): the files were read again from the start.
    assert unbounded(first) == unbounded(second)
    assert b'filename="spk/a.wav"' in second[3] and b"hello" in second[3]
    assert first[2]["Idempotency-Key"] == second[2]["Idempotency-Key"] == "k-1"
    assert second[2]["X-API-Key"] == "fa_k"
    assert sum(sent) == 2 * (104 + 5)


def test_an_expired_token_is_renewed_once_and_the_new_pair_is_told(
    server: tuple[str, Script],
) -> None:
    url, script = server
    expired = {"error": {"code": "token_expired", "message": "expired", "details": None}}
    script.answers = [
        (401, {}, expired),
        (200, {}, {"access_token": "new", "refresh_token": "r2", "token_type": "bearer"}),
        (200, {}, JOB),
    ]
    told: list[str] = []
    credentials = Credentials(access_token="old", refresh_token="r1")
    with Client(url, credentials, on_tokens=lambda t: told.append(t.access_token)) as client:
        client.job("j1")
    assert told == ["new"]
    assert json.loads(script.requests[1][3]) == {"refresh_token": "r1"}
    assert script.requests[2][2]["Authorization"] == "Bearer new"


def test_a_refusal_is_an_api_error_with_code_and_details(server: tuple[str, Script]) -> None:
    url, script = server
    refusal = {"error": {"code": "unmatched_files", "message": "pair them", "details": {"x": 1}}}
    script.answers = [(422, {}, refusal)]
    with Client(url, Credentials(access_token="t")) as client, pytest.raises(ApiError) as error:
        client.cancel("j1")
    assert (error.value.status, error.value.code, error.value.details) == (
        422,
        "unmatched_files",
        {"x": 1},
    )
    assert len(script.requests) == 1  # a refusal is not retried
