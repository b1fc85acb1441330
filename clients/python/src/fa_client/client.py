"""A typed client of the service's public API (``/api/v1``).

Retries what the service asks to be retried (429 and 503, after their Retry-After) and
connection failures of requests that are safe to repeat; renews an expired access token
with the refresh token once, and tells the caller the new pair (``on_tokens``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from fa_client.models import ApiKey, Job, JobList, Quota, TokenPair, ValidationReport, error_of

__all__ = ["ApiError", "Client", "Credentials", "UploadFile"]

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
ProgressCallback = Callable[[int], None]


class ApiError(Exception):
    """The service refused: its status, error code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass
class Credentials:
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class UploadFile:
    """One file of a submit: its form field, the name the service keeps (folders
    included, e.g. ``speaker1/utt1.wav``) and where it is on disk."""

    field: str
    name: str
    path: Path


class _Progress:
    """A file object that reports how many bytes were read (sent) so far."""

    def __init__(self, inner: BinaryIO, report: ProgressCallback | None) -> None:
        self._inner, self._report = inner, report

    def read(self, size: int = -1) -> bytes:
        block = self._inner.read(size)
        if self._report is not None and block:
            self._report(len(block))
        return block

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Client:
    def __init__(
        self,
        url: str,
        credentials: Credentials | None = None,
        *,
        timeout: float = 60.0,
        max_attempts: int = 8,
        max_wait_seconds: float = 60.0,
        on_tokens: Callable[[TokenPair], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials or Credentials()
        self._http = httpx.Client(
            base_url=self.url + "/api/v1",
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
            headers={"User-Agent": "fa-client/1.0"},
        )
        self._max_attempts = max_attempts
        self._max_wait = max_wait_seconds
        self._on_tokens = on_tokens
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- accounts ------------------------------------------------------------------------
    def register(self, email: str, password: str) -> dict[str, Any]:
        body: dict[str, Any] = self._json(
            "POST", "/auth/register", json={"email": email, "password": password}, auth=False
        )
        return body

    def login(self, email: str, password: str) -> TokenPair:
        tokens = TokenPair.model_validate(
            self._json(
                "POST", "/auth/login", json={"email": email, "password": password}, auth=False
            )
        )
        self._use(tokens)
        return tokens

    def quota(self) -> Quota:
        return Quota.model_validate(self._json("GET", "/users/quota"))

    def create_api_key(self, name: str, scope: str = "write") -> ApiKey:
        return ApiKey.model_validate(
            self._json("POST", "/api-keys", json={"name": name, "scope": scope})
        )

    # -- jobs ----------------------------------------------------------------------------
    def submit(
        self,
        files: Sequence[UploadFile],
        *,
        language: str | None = None,
        engine: str | None = None,
        validate: bool = False,
        idempotency_key: str | None = None,
        on_sent: ProgressCallback | None = None,
    ) -> Job:
        """Upload pairs (``audio_files``/``text_files``) or one ``corpus`` zip. The files
        are streamed from disk; ``on_sent`` hears of every block sent."""
        data = {"language": language, "engine": engine, "validate": "true" if validate else None}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

        def request() -> httpx.Response:
            with ExitStack() as opened:
                parts: list[tuple[str, tuple[str, Any]]] = [
                    (
                        f"{f.field}[]" if f.field != "corpus" else "corpus",
                        (f.name, _Progress(opened.enter_context(f.path.open("rb")), on_sent)),
                    )
                    for f in files
                ]
                return self._send(
                    "POST",
                    "/alignment/",
                    files=parts,
                    data={k: v for k, v in data.items() if v is not None},
                    headers=headers,
                )

        # A retried upload is sent again from the start: the same Idempotency-Key makes
        # sure that a submit that was accepted before its answer got lost is not doubled.
        response = self._checked(self._retrying(request, safe=bool(headers)))
        return Job.model_validate(response.json())

    def job(self, job_id: str) -> Job:
        return Job.model_validate(self._json("GET", f"/alignment/{job_id}"))

    def jobs(self, limit: int = 50) -> list[Job]:
        return JobList.model_validate(
            self._json("GET", "/alignment/", params={"limit": limit})
        ).items

    def cancel(self, job_id: str) -> None:
        self._json("DELETE", f"/alignment/{job_id}")

    def wait(
        self,
        job_id: str,
        on_change: Callable[[Job], None] | None = None,
        poll_seconds: float = 1.0,
        timeout: float | None = None,
    ) -> Job:
        """Polls until the job is finished; ``on_change`` sees every new state."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[str, int, tuple[str, ...]] | None = None
        while True:
            job = self.job(job_id)
            state = (job.status, job.progress, tuple(f.status for f in job.files))
            if state != last and on_change is not None:
                on_change(job)
            last = state
            if job.finished:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.status}")
            self._sleep(poll_seconds)

    def result(self, job_id: str, file_id: str, format: str = "json") -> bytes:
        response = self._checked(
            self._retrying(
                lambda: self._send(
                    "GET",
                    f"/alignment/{job_id}/result",
                    params={"format": format, "file_id": file_id},
                ),
                safe=True,
            )
        )
        return response.content

    def validation(self, job_id: str, file_id: str) -> ValidationReport:
        return ValidationReport.model_validate_json(self.result(job_id, file_id, "json"))

    def download_results(self, job_id: str, format: str, target: Path) -> None:
        """Every aligned file's result as one zip, streamed to ``target``."""
        with self._http.stream(
            "GET",
            f"/alignment/{job_id}/result",
            params={"format": format},
            headers=self._auth_headers(),
        ) as response:
            if response.status_code >= 400:
                response.read()
                self._checked(response)
            with target.open("wb") as out:
                for block in response.iter_bytes(1 << 16):
                    out.write(block)

    # -- plumbing ------------------------------------------------------------------------
    def _use(self, tokens: TokenPair) -> None:
        self.credentials.access_token = tokens.access_token
        self.credentials.refresh_token = tokens.refresh_token
        if self._on_tokens is not None:
            self._on_tokens(tokens)

    def _auth_headers(self) -> dict[str, str]:
        if self.credentials.api_key:
            return {"X-API-Key": self.credentials.api_key}
        if self.credentials.access_token:
            return {"Authorization": f"Bearer {self.credentials.access_token}"}
        return {}

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers |= self._auth_headers()
        response = self._http.request(method, path, headers=headers, **kwargs)
        if auth and response.status_code == 401 and self._refresh_after(response):
            headers |= self._auth_headers()
            response = self._http.request(method, path, headers=headers, **kwargs)
        return response

    def _refresh_after(self, response: httpx.Response) -> bool:
        """True if the access token had expired and a new one was had."""
        code, _, _ = error_of(_body(response))
        if code != "token_expired" or not self.credentials.refresh_token:
            return False
        renewed = self._http.post(
            "/auth/refresh", json={"refresh_token": self.credentials.refresh_token}
        )
        if renewed.status_code != 200:
            return False
        self._use(TokenPair.model_validate(renewed.json()))
        return True

    def _retrying(self, request: Callable[[], httpx.Response], *, safe: bool) -> httpx.Response:
        """``safe``: the request may be sent again after a connection failure too."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                response = request()
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                if not safe or attempt == self._max_attempts:
                    raise
                self._sleep(min(2.0**attempt / 4, self._max_wait))
                continue
            if response.status_code not in RETRIED_STATUSES or attempt == self._max_attempts:
                return response
            self._sleep(self._pause(response, attempt))
        raise AssertionError("unreachable")

    def _pause(self, response: httpx.Response, attempt: int) -> float:
        after = response.headers.get("Retry-After", "")
        wait = float(after) if after.replace(".", "", 1).isdigit() else 2.0 ** min(attempt, 5) / 4
        return min(wait, self._max_wait)

    def _json(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        safe = method in {"GET", "DELETE"}
        response = self._retrying(lambda: self._send(method, path, auth=auth, **kwargs), safe=safe)
        body = _body(self._checked(response))
        return body

    @staticmethod
    def _checked(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            raise ApiError(response.status_code, *error_of(_body(response)))
        return response


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
