"""Plans, quotas, sessions and data rights, through the public API."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from devstack import SERVICES, Stack
from tests.e2e.helpers import (
    add_plan,
    auth_command,
    counted_usage,
    eval_pair,
    new_user,
    object_keys,
    query,
    set_plan,
    submit,
    user_on_plan,
    wait_for,
)

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"  # what new_user() registers with


def api(stack: Stack, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=stack.url("gateway") + "/api/v1", headers=headers, timeout=60)


def login(stack: Stack, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = api(stack).post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def eventually_refused(stack: Stack, token: str, code: str = "session_ended") -> None:
    """Revocation reaches the gateway by event: within moments, not at once."""
    deadline = time.monotonic() + 10
    while True:
        response = api(stack, token).get("/auth/me")
        if response.status_code == 401:
            assert response.json()["error"]["code"] == code
            return
        assert time.monotonic() < deadline, "the ended session's token still works"
        time.sleep(0.1)


# Sessions ---------------------------------------------------------------------------------


def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(stack: Stack) -> None:
    user = new_user(stack)
    first = login(stack, user.email)
    rotated = api(stack).post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api(stack, second["access_token"]).get("/auth/me").status_code == 200
    # The spent token comes back (a thief's copy): refused, and the session is over.
    reused = api(stack).post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    again = api(stack).post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401
    eventually_refused(stack, second["access_token"])
    # Other sessions of the account are untouched.
    assert api(stack, login(stack, user.email)["access_token"]).get("/auth/me").status_code == 200


def test_garbage_refresh_tokens_are_refused(stack: Stack) -> None:
    for token in ("nope", "x" * 512):
        response = api(stack).post("/auth/refresh", json={"refresh_token": token})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_refresh_token"


def test_logout_ends_one_session_and_logout_all_ends_every_one(stack: Stack) -> None:
    user = new_user(stack)
    a, b, c = (login(stack, user.email) for _ in range(3))
    out = api(stack, a["access_token"]).post(
        "/auth/logout", json={"refresh_token": a["refresh_token"]}
    )
    assert out.status_code == 204
    eventually_refused(stack, a["access_token"])
    gone = api(stack).post("/auth/refresh", json={"refresh_token": a["refresh_token"]})
    assert gone.status_code == 401
    assert api(stack, b["access_token"]).get("/auth/me").status_code == 200
    assert api(stack, b["access_token"]).post("/auth/logout-all").status_code == 204
    eventually_refused(stack, b["access_token"])
    eventually_refused(stack, c["access_token"])
    assert (
        api(stack).post("/auth/refresh", json={"refresh_token": c["refresh_token"]}).status_code
        == 401
    )
    assert api(stack, login(stack, user.email)["access_token"]).get("/auth/me").status_code == 200


def test_a_password_change_ends_every_session(stack: Stack) -> None:
    user = new_user(stack)
    session = login(stack, user.email)
    client = api(stack, session["access_token"])
    wrong = client.post(
        "/auth/password", json={"current_password": "not it", "new_password": "a new secret 1"}
    )
    assert wrong.status_code == 401
    changed = client.post(
        "/auth/password", json={"current_password": PASSWORD, "new_password": "a new secret 1"}
    )
    assert changed.status_code == 204
    eventually_refused(stack, session["access_token"])
    old = api(stack).post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    assert login(stack, user.email, "a new secret 1")["access_token"]


def test_login_attempts_on_one_account_are_rate_limited(stack: Stack) -> None:
    user = new_user(stack)
    codes = [
        api(stack).post("/auth/login", json={"email": user.email, "password": "guess"}).status_code
        for _ in range(12)
    ]
    assert 429 in codes and set(codes) <= {401, 429}
    limited = api(stack).post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"


# Plans and quotas -------------------------------------------------------------------------


def test_quota_shows_the_plan_and_usage_that_follows_stored_files(stack: Stack) -> None:
    user = new_user(stack)
    before = user.client.get("/users/quota").json()
    assert before["subscription"] == "free"
    assert before["limits"]["retention_days"] == 7
    assert before["usage"]["storage_bytes_used"] == 0
    job = wait_for(user, submit(user, eval_pair("timit/dr4-falr0_sx65")).json()["id"])
    assert job["status"] == "COMPLETED"
    after = counted_usage(user)
    assert after["storage_bytes_used"] > 50_000  # the canonical WAV and text
    assert after["storage_bytes_reserved"] == 0
    assert after["audio_minutes_used"] > 0.03


def test_recalculate_usage_rebuilds_drifted_usage_from_what_storage_holds(stack: Stack) -> None:
    user = new_user(stack)
    job = wait_for(user, submit(user, eval_pair("timit/dr4-falr0_sx65")).json()["id"])
    assert job["status"] == "COMPLETED"
    true = counted_usage(user)
    # Usage drifts (a bug, a restored backup): recalculating brings back storage's numbers.
    query(
        stack,
        "auth",
        "UPDATE `usage` SET storage_bytes = 7, audio_seconds_month = 6000 WHERE user_id = %s",
        user.id,
    )
    assert user.client.get("/users/quota").json()["usage"]["storage_bytes_used"] == 7
    done = auth_command(stack, "recalculate-usage", user.email, "nobody@example.org")
    assert done.returncode == 1, done.stderr  # one of the two users does not exist
    assert f"{user.email}: storage 7 -> {true['storage_bytes_used']} bytes (1 files)" in done.stdout
    assert "nobody@example.org: no such user" in done.stdout
    rebuilt = user.client.get("/users/quota").json()["usage"]
    assert rebuilt["storage_bytes_used"] == true["storage_bytes_used"]
    assert rebuilt["audio_minutes_used"] == pytest.approx(true["audio_minutes_used"], abs=0.01)
    assert auth_command(stack, "recalculate-usage").returncode == 2  # neither EMAIL nor --all


def test_an_unknown_plan_is_refused_by_the_operator_cli(stack: Stack) -> None:
    user = new_user(stack)
    done = set_plan(stack, user.email, "platinum")
    assert done.returncode != 0 and "could not change the plan" in done.stderr
    assert user.client.get("/users/quota").json()["subscription"] == "free"


def test_two_parallel_uploads_that_together_exceed_the_quota_one_is_refused(
    stack: Stack,
) -> None:
    pair = eval_pair("timit/dr4-falr0_sx65")
    one_upload = len(pair[1]) + len(pair[3])
    user = user_on_plan(stack, storage_bytes=int(one_upload * 1.5))
    results: list[httpx.Response] = []

    def upload() -> None:
        results.append(submit(user, pair))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [202, 413]
    refused = next(r for r in results if r.status_code == 413).json()["error"]
    assert refused["code"] == "storage_quota_exceeded"
    assert refused["details"]["limit"] == int(one_upload * 1.5)
    accepted = next(r for r in results if r.status_code == 202).json()
    assert wait_for(user, accepted["id"])["status"] == "COMPLETED"


def test_a_file_over_the_plans_size_is_refused_with_the_limit(stack: Stack) -> None:
    user = user_on_plan(stack, max_file_bytes=10_000)
    response = submit(user, eval_pair("timit/dr4-falr0_sx65"))
    assert response.status_code == 413
    assert "10000" in response.json()["error"]["message"]


def test_no_minutes_left_this_month_is_refused(stack: Stack) -> None:
    user = user_on_plan(stack, audio_minutes_per_month=0)
    response = submit(user, eval_pair("timit/dr4-falr0_sx65"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "minutes_quota_exceeded"


def test_a_plan_changed_a_moment_ago_counts_at_once_both_ways(stack: Stack) -> None:
    """The gateway may start an upload on auth's last report, seconds old; a refusal is
    never taken from it, and auth's reservation still decides."""
    pair = eval_pair("timit/dr4-falr0_sx65")
    user = user_on_plan(stack, audio_minutes_per_month=0)
    assert submit(user, pair).status_code == 403  # the report that refuses is remembered
    roomy, empty = f"t{uuid.uuid4().hex[:12]}", f"t{uuid.uuid4().hex[:12]}"
    add_plan(stack, roomy)
    add_plan(stack, empty, audio_minutes_per_month=0)
    assert set_plan(stack, user.email, roomy).returncode == 0
    accepted = submit(user, pair)  # at once: the old report's "no" is asked again
    assert accepted.status_code == 202, accepted.text
    assert set_plan(stack, user.email, empty).returncode == 0
    refused = submit(user, pair)  # the recent "yes" lets the upload in; the reservation refuses
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "minutes_quota_exceeded"
    jobs = user.client.get("/alignment/").json()
    assert [j["id"] for j in jobs["items"]] == [accepted.json()["id"]]
    assert wait_for(user, accepted.json()["id"])["status"] == "COMPLETED"


def test_too_many_concurrent_jobs_is_429_with_retry_after(stack: Stack) -> None:
    user = user_on_plan(stack, max_concurrent_jobs=1)
    first = submit(user, eval_pair("librispeech/1272-128104-0000"))
    assert first.status_code == 202
    second = submit(user, eval_pair("timit/dr4-falr0_sx65"))
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "too_many_concurrent_jobs"
    assert int(second.headers["Retry-After"]) > 0
    wait_for(user, first.json()["id"])
    assert submit(user, eval_pair("timit/dr4-falr0_sx65")).status_code == 202


# Data rights ------------------------------------------------------------------------------


def _rows_mentioning(stack: Stack, user_id: str) -> dict[str, int]:
    """Rows of every service's own tables (not its event log) that hold the user's id."""
    needles = (user_id, uuid.UUID(user_id).hex)
    found: dict[str, int] = {}
    for service in SERVICES:
        schema = stack.config.schema(service)
        tables = query(
            stack,
            service,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name NOT IN ('outbox', 'inbox', 'alembic_version')",
            schema,
        )
        for (table,) in tables:
            columns = [
                c
                for (c,) in query(
                    stack,
                    service,
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s",
                    schema,
                    table,
                )
            ]
            joined = "CONCAT_WS('|', " + ", ".join(f"`{c}`" for c in columns) + ")"
            for needle in needles:
                count = query(
                    stack,
                    service,
                    f"SELECT COUNT(*) FROM `{table}` WHERE {joined} LIKE %s",
                    f"%{needle}%",
                )[0][0]
                if count:
                    found[f"{service}.{table}"] = count
    return found


def test_export_holds_everything_and_delete_leaves_nothing(stack: Stack) -> None:
    user = new_user(stack)
    job = wait_for(user, submit(user, eval_pair("timit/dr4-falr0_sx65")).json()["id"])
    assert job["status"] == "COMPLETED"
    exported = user.client.get("/users/me/export")
    assert exported.status_code == 200
    data = exported.json()
    assert data["profile"]["email"] == user.email
    assert data["quota"]["subscription"] == "free"
    assert [j["id"] for j in data["jobs"]] == [job["id"]]
    assert data["jobs"][0]["files"][0]["audio_name"] == "dr4-falr0_sx65.wav"
    assert _rows_mentioning(stack, user.id)  # the check can see the user while it exists
    assert object_keys(stack, f"{user.id}/")

    assert user.client.delete("/users/me").status_code == 202
    eventually_refused(stack, user.client.headers["Authorization"].split()[1])
    deadline = time.monotonic() + 20
    while (left := _rows_mentioning(stack, user.id)) or object_keys(stack, f"{user.id}/"):
        assert time.monotonic() < deadline, f"still there: {left}"
        time.sleep(0.3)
    assert object_keys(stack, f"incoming/{user.id}/") == []
    gone = api(stack).post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert gone.status_code == 401


def test_another_users_job_is_404_on_every_path(stack: Stack) -> None:
    owner, other = new_user(stack), new_user(stack)
    job = wait_for(owner, submit(owner, eval_pair("timit/dr4-falr0_sx65")).json()["id"])
    file_id = job["files"][0]["id"]
    paths = [
        f"/alignment/{job['id']}",
        f"/alignment/{job['id']}/files",
        f"/alignment/{job['id']}/events",
        f"/alignment/{job['id']}/download/audio",
        f"/alignment/{job['id']}/download/audio?file_id={file_id}",
        f"/alignment/{job['id']}/audio/segment?start=0&end=1",
        f"/alignment/{job['id']}/audio/segment?start=0&end=1&file_id={file_id}",
    ] + [
        f"/alignment/{job['id']}/result?format={fmt}{extra}"
        for fmt in ("json", "textgrid", "csv", "srt", "vtt")
        for extra in ("", f"&file_id={file_id}")
    ]
    for path in paths:
        assert owner.client.get(path).status_code == 200, path
        response = other.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "job_not_found", path
    listed = other.client.get("/alignment/").json()["items"]
    assert job["id"] not in [j["id"] for j in listed]
    deleted = other.client.delete(f"/alignment/{job['id']}")
    assert deleted.status_code == 404 and deleted.json()["error"]["code"] == "job_not_found"
    assert owner.client.get(f"/alignment/{job['id']}").json()["status"] == "COMPLETED"


def test_bad_bodies_on_the_new_routes_are_4xx(stack: Stack) -> None:
    user = new_user(stack)
    assert api(stack).post("/auth/refresh", json={}).status_code == 422
    assert api(stack).post("/auth/refresh", content=b"{").status_code == 422
    assert user.client.post("/auth/password", json={"new_password": "x"}).status_code == 422
    assert api(stack).post("/auth/logout-all").status_code == 401
    assert api(stack).delete("/users/me").status_code == 401
