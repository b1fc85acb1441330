"""API keys for scripts, and following a job from a browser (stream tokens, CORS), through
the public API of a running stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from devstack import Stack
from tests.e2e.helpers import User, new_user, pair_files, query

pytestmark = pytest.mark.e2e

ORIGIN = "http://app.example.test"
PER_KEY_LIMIT = 30


def api(stack: Stack, headers: dict[str, str] | None = None) -> httpx.Client:
    base = stack.url("gateway") + "/api/v1"
    return httpx.Client(base_url=base, headers=headers or {}, timeout=60)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(user: User, scope: str = "write", name: str = "script") -> dict[str, Any]:
    created = user.client.post("/api-keys", json={"name": name, "scope": scope})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def tiny_job(client: httpx.Client) -> httpx.Response:
    """A submit that costs no alignment: storage refuses the 'audio' at once."""
    return client.post(
        "/alignment/", files=pair_files(("a.wav", b"not audio", "a.txt", b"hello")), data={}
    )


def eventually_refused(stack: Stack, key: str, within: float) -> float:
    """Seconds until the key is refused with 401 invalid_api_key."""
    started = time.monotonic()
    while True:
        response = api(stack, bearer(key)).get("/alignment/")
        if response.status_code == 401:
            assert error_code(response) == "invalid_api_key"
            return time.monotonic() - started
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < within, f"the key still works after {within} s"
        time.sleep(0.2)


# API keys ---------------------------------------------------------------------------------


def test_a_key_works_in_either_header_and_is_listed_but_never_shown_again(stack: Stack) -> None:
    user = new_user(stack)
    created = new_key(user, "read", name="  laptop backup  ")
    assert set(created) >= {"id", "key", "name", "scope", "prefix", "created_at"}
    assert created["key"].startswith("fa_")
    assert created["prefix"] == created["key"][: len(created["prefix"])]
    assert created["name"] == "laptop backup" and created["scope"] == "read"
    assert created["last_used_at"] is None
    listed = user.client.get("/api-keys").json()["items"]
    assert [k["last_used_at"] for k in listed] == [None]

    me = api(stack, bearer(created["key"])).get("/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user.id
    quota = api(stack, {"X-API-Key": created["key"]}).get("/users/quota")
    assert quota.status_code == 200, quota.text
    assert api(stack, {"X-API-Key": created["key"]}).get("/alignment/").status_code == 200

    listing = user.client.get("/api-keys")
    assert listing.status_code == 200
    assert created["key"] not in listing.text
    (item,) = listing.json()["items"]
    assert item["id"] == created["id"] and item["prefix"] == created["prefix"]
    assert item["name"] == "laptop backup" and item["scope"] == "read"
    assert "key" not in item
    used = datetime.fromisoformat(item["last_used_at"])
    assert abs(datetime.now(UTC) - used) < timedelta(minutes=1)
    # Only the hash is kept.
    rows = query(stack, "auth", "SELECT key_hash, prefix FROM api_keys")
    assert rows and all(created["key"] not in str(row) for row in rows)
    # Someone else sees none of it.
    assert new_user(stack).client.get("/api-keys").json() == {"items": []}


def test_bad_keys_and_bad_requests_are_4xx(stack: Stack) -> None:
    for key in ("fa_nope", "fa_" + "x" * 43, "fa_" + "é" * 43):
        for headers in (bearer(key), {"X-API-Key": key}):
            try:
                response = api(stack, headers).get("/auth/me")
            except UnicodeEncodeError:  # httpx will not send a non-ASCII header: fine
                continue
            assert response.status_code == 401, response.text
            assert error_code(response) == "invalid_api_key"
    user = new_user(stack)
    for body in ({"name": "x", "scope": "admin"}, {"name": "", "scope": "read"}, {"scope": "read"}):
        refused = user.client.post("/api-keys", json=body)
        assert refused.status_code == 422, refused.text
    assert user.client.delete("/api-keys/not-a-uuid").status_code == 422
    assert api(stack).get("/api-keys").status_code == 401


def test_a_read_key_reads_but_cannot_submit_delete_or_manage(stack: Stack) -> None:
    user = new_user(stack)
    job = tiny_job(user.client)
    assert job.status_code == 202, job.text
    reader = api(stack, {"X-API-Key": new_key(user, "read")["key"]})
    writer_key = new_key(user, "write")["key"]
    writer = api(stack, bearer(writer_key))

    assert reader.get(f"/alignment/{job.json()['id']}").status_code == 200
    refused = tiny_job(reader)
    assert refused.status_code == 403, refused.text
    assert error_code(refused) == "insufficient_scope"
    assert refused.json()["error"]["details"] == {"scope": "read", "required": "write"}
    deleting = reader.delete(f"/alignment/{job.json()['id']}")
    assert deleting.status_code == 403
    assert error_code(deleting) == "insufficient_scope"

    submitted = tiny_job(writer)
    assert submitted.status_code == 202, submitted.text
    assert writer.delete(f"/alignment/{submitted.json()['id']}").status_code == 202
    # No key makes or revokes keys, or ends the account: that takes a login.
    for client in (reader, writer):
        for response in (
            client.post("/api-keys", json={"name": "more", "scope": "write"}),
            client.get("/api-keys"),
            client.delete(f"/api-keys/{uuid.uuid4()}"),
            client.delete("/users/me"),
            client.post("/auth/logout-all"),
        ):
            assert response.status_code == 403, response.text
            assert error_code(response) == "session_required"
    assert user.client.get("/auth/me").status_code == 200


def test_a_revoked_key_is_refused_within_seconds(stack: Stack) -> None:
    user, other = new_user(stack), new_user(stack)
    created = new_key(user)
    key = created["key"]
    assert api(stack, bearer(key)).get("/auth/me").status_code == 200  # now in the cache
    foreign = other.client.delete(f"/api-keys/{created['id']}")
    assert foreign.status_code == 404
    assert error_code(foreign) == "api_key_not_found"
    assert api(stack, bearer(key)).get("/auth/me").status_code == 200

    revoked = user.client.delete(f"/api-keys/{created['id']}")
    assert revoked.status_code == 204, revoked.text
    assert eventually_refused(stack, key, within=6) < 6
    refused = api(stack, {"X-API-Key": key}).get("/alignment/")
    assert refused.status_code == 401
    assert error_code(refused) == "invalid_api_key"
    assert user.client.get("/api-keys").json() == {"items": []}
    assert user.client.delete(f"/api-keys/{created['id']}").status_code == 404


def test_deleting_the_account_removes_its_keys(stack: Stack) -> None:
    user = new_user(stack)
    keys = [new_key(user, scope)["key"] for scope in ("read", "write")]
    for key in keys:
        assert api(stack, bearer(key)).get("/auth/me").status_code == 200
    user_hex = uuid.UUID(user.id).hex
    count = "SELECT COUNT(*) FROM api_keys WHERE user_id = %s"
    assert query(stack, "auth", count, user_hex) == [(2,)]
    assert user.client.delete("/users/me").status_code == 202
    for key in keys:
        eventually_refused(stack, key, within=6)
    assert query(stack, "auth", count, user_hex) == [(0,)]


# Stream tokens ----------------------------------------------------------------------------


def first_event(stack: Stack, job_id: str, params: dict[str, str]) -> httpx.Response | str:
    """The first event's data, or the refusal."""
    url = f"{stack.url('gateway')}/api/v1/alignment/{job_id}/events"
    with httpx.stream("GET", url, params=params, timeout=30) as response:
        if response.status_code != 200:
            response.read()
            return response
        for line in response.iter_lines():
            if line.startswith("data:"):
                return line.removeprefix("data:").strip()
    raise AssertionError("the stream ended without an event")


def test_a_stream_token_opens_its_job_without_a_header(stack: Stack) -> None:
    user, other = new_user(stack), new_user(stack)
    job_id = tiny_job(user.client).json()["id"]
    another_job = tiny_job(user.client).json()["id"]
    issued = user.client.post(f"/alignment/{job_id}/stream-token")
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    expires = datetime.fromisoformat(issued.json()["expires_at"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)

    data = first_event(stack, job_id, {"token": token})
    assert isinstance(data, str) and f'"id":"{job_id}"' in data.replace(" ", "")

    unauthenticated = first_event(stack, job_id, {})
    assert isinstance(unauthenticated, httpx.Response)
    assert unauthenticated.status_code == 401
    for job, bad_token, code in (
        (another_job, token, "invalid_stream_token"),
        (job_id, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "invalid_stream_token"),
        (job_id, "garbage", "invalid_stream_token"),
        (job_id, expired_token(stack, user.id, job_id), "stream_token_expired"),
    ):
        refused = first_event(stack, job, {"token": bad_token})
        assert isinstance(refused, httpx.Response)
        assert refused.status_code == 401, refused.text
        assert error_code(refused) == code
    # Tokens are for one's own jobs; a read key may ask for one.
    assert other.client.post(f"/alignment/{job_id}/stream-token").status_code == 404
    reader = api(stack, bearer(new_key(user, "read")["key"]))
    assert reader.post(f"/alignment/{job_id}/stream-token").status_code == 200
    assert api(stack).post(f"/alignment/{job_id}/stream-token").status_code == 401


def expired_token(stack: Stack, user_id: str, job_id: str) -> str:
    """Signed with the stack's own secret, and expired a minute ago."""
    now = datetime.now(UTC)
    claims = {
        "iss": "alignment-gateway",
        "aud": "alignment-job-events",
        "sub": user_id,
        "job": job_id,
        "iat": int((now - timedelta(minutes=6)).timestamp()),
        "exp": int((now - timedelta(minutes=1)).timestamp()),
    }
    return jwt.encode(claims, stack.secrets.stream_token_secret.encode(), algorithm="HS256")


# A gateway with CORS and a small per-key limit (restarted; put back afterwards) -----------


def test_no_cors_headers_unless_configured(stack: Stack) -> None:
    response = api(stack, {"Origin": ORIGIN}).get("/alignment/")
    assert response.status_code == 401
    assert "access-control-allow-origin" not in response.headers


@pytest.fixture
def reconfigured_gateway(stack: Stack) -> Iterator[Stack]:
    extra = stack.config.extra_env.setdefault("gateway", {})
    settings = {
        "GATEWAY_CORS_ORIGINS": ORIGIN,
        "GATEWAY_RATE_LIMITS__PER_API_KEY": f"{PER_KEY_LIMIT}/minute",
    }

    def restart() -> None:
        stack.stop_service("gateway")
        stack.start_service("gateway")
        stack.wait_ready(("gateway",))

    extra.update(settings)
    restart()
    try:
        yield stack
    finally:
        for name in settings:
            extra.pop(name, None)
        restart()


def test_cors_answers_only_a_configured_origin(reconfigured_gateway: Stack) -> None:
    stack = reconfigured_gateway
    user = new_user(stack)
    job_id = tiny_job(user.client).json()["id"]
    preflight = {"Access-Control-Request-Method": "POST"}
    ok = api(
        stack, {"Origin": ORIGIN, **preflight} | {"Access-Control-Request-Headers": "x-api-key"}
    )
    allowed = ok.options(f"/alignment/{job_id}/stream-token")
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    evil = api(stack, {"Origin": "http://evil.example.test", **preflight})
    refused = evil.options(f"/alignment/{job_id}/stream-token")
    assert refused.status_code == 400
    assert error_code(refused) == "cors_refused"
    assert "access-control-allow-origin" not in refused.headers

    token = user.client.post(f"/alignment/{job_id}/stream-token").json()["token"]
    for origin, allowed_origin in ((ORIGIN, ORIGIN), ("http://evil.example.test", None)):
        url = f"{stack.url('gateway')}/api/v1/alignment/{job_id}/events"
        with httpx.stream(
            "GET", url, params={"token": token}, headers={"Origin": origin}, timeout=30
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers.get("access-control-allow-origin") == allowed_origin
    unauthenticated = api(stack, {"Origin": ORIGIN}).get("/alignment/")
    assert unauthenticated.status_code == 401  # errors carry CORS headers: a page can read them
    assert unauthenticated.headers["access-control-allow-origin"] == ORIGIN


def test_rate_limits_count_per_key(reconfigured_gateway: Stack) -> None:
    stack = reconfigured_gateway
    user = new_user(stack)
    busy, other = (api(stack, bearer(new_key(user, "read")["key"])) for _ in range(2))
    statuses = [busy.get("/alignment/").status_code for _ in range(PER_KEY_LIMIT)]
    assert statuses == [200] * PER_KEY_LIMIT
    limited = busy.get("/alignment/")
    assert limited.status_code == 429
    assert error_code(limited) == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert other.get("/alignment/").status_code == 200  # another key of the same user
    assert user.client.get("/alignment/").status_code == 200  # and the login session
