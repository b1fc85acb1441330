"""Webhooks: a receiver on this machine (the test stack allows loopback targets) is told of
finished jobs once, signed as Standard Webhooks says; failures are retried with the same
webhook-id; private addresses are refused; a submit's callback_url is told of its job."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from devstack import Stack
from tests.e2e.helpers import User, eval_pair, eventually, new_user, query, submit, wait_for

pytestmark = pytest.mark.e2e

PAIR = "timit/dr4-falr0_sx65"
OTHER_PAIR = "timit/dr4-falr0_si695"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: records what each path gets; a path may fail first."""

    port: int = 0
    received: dict[str, list[Received]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # path -> 500s before a 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def path(self, prefix: str = "hook") -> str:
        return f"{prefix}-{secrets.token_hex(4)}"

    def got(self, name: str) -> list[Received]:
        with self.lock:
            return list(self.received.get("/" + name, []))

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.received.setdefault(path, []).append(Received(headers, body))
            left = self.failures.get(path[1:], 0)
            if left:
                self.failures[path[1:]] = left - 1
                return 500
        return 200


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = state.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def register(user: User, url: str, events: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url} | ({"events": events} if events is not None else {})
    response = user.client.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The payload, once standardwebhooks verified its signature."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


def deliveries(user: User, webhook_id: str) -> list[dict[str, Any]]:
    response = user.client.get(f"/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def settled(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    eventually(check, what, timeout)


def test_a_webhook_is_told_of_each_completed_job_once_signed(
    stack: Stack, receiver: Receiver
) -> None:
    user = new_user(stack)
    name = receiver.path()
    hook = register(user, receiver.url(name), ["job.completed"])
    assert hook["secret"].startswith("whsec_")
    assert hook["events"] == ["job.completed"] and hook["url"] == receiver.url(name)
    listed = user.client.get("/webhooks").json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]

    jobs = [submit(user, eval_pair(p)).json()["id"] for p in (PAIR, OTHER_PAIR)]
    views = {job_id: wait_for(user, job_id) for job_id in jobs}
    assert {v["status"] for v in views.values()} == {"COMPLETED"}
    settled(lambda: len(receiver.got(name)) >= 2, "two job.completed deliveries never came")
    time.sleep(1.5)  # nothing more comes: once per job
    got = receiver.got(name)
    assert len(got) == 2
    payloads = [verified(hook["secret"], r) for r in got]
    assert {p["type"] for p in payloads} == {"job.completed"}
    assert sorted(p["data"]["id"] for p in payloads) == sorted(jobs)
    for payload in payloads:  # the job as GET /alignment/{id} shows it
        assert payload["data"] == views[payload["data"]["id"]]
    assert len({r.headers["webhook-id"] for r in got}) == 2
    assert all(r.headers["content-type"] == "application/json" for r in got)

    listing = deliveries(user, hook["id"])
    assert sorted(d["id"] for d in listing) == sorted(r.headers["webhook-id"] for r in got)
    for d in listing:
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 1, 200)
        assert d["event"] == "job.completed" and d["next_attempt_at"] is None


def test_a_failing_receiver_gets_the_same_webhook_id_until_it_answers(
    stack: Stack, receiver: Receiver
) -> None:
    user = new_user(stack)
    name = receiver.path("flaky")
    receiver.failures[name] = 3
    hook = register(user, receiver.url(name))
    job_id = submit(user, eval_pair(PAIR)).json()["id"]
    assert wait_for(user, job_id)["status"] == "COMPLETED"
    settled(lambda: len(receiver.got(name)) >= 4, "the fourth attempt never came")
    time.sleep(1.5)
    got = receiver.got(name)
    assert len(got) == 4
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1  # the same body each time, freshly signed
    for r in got:
        verified(hook["secret"], r)
    (delivery,) = deliveries(user, hook["id"])
    assert delivery["id"] == got[0].headers["webhook-id"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "delivered",
        4,
        200,
    )


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://10.0.0.1/hook", "url_not_allowed"),
        ("http://192.168.1.20:8080/hook", "url_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", "url_not_allowed"),
        ("http://[fe80::1]/hook", "url_not_allowed"),
        ("http://0.0.0.0:9/hook", "url_not_allowed"),
        ("ftp://example.org/hook", "invalid_url"),
        ("http://user:pw@127.0.0.1/hook", "invalid_url"),
    ],
)
def test_private_addresses_and_bad_urls_are_refused(stack: Stack, url: str, code: str) -> None:
    user = new_user(stack)
    response = user.client.post("/webhooks", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert user.client.get("/webhooks").json()["items"] == []


def test_bad_bodies_are_4xx_json(stack: Stack) -> None:
    user = new_user(stack)
    for body in ({"url": "http://127.0.0.1:9/x", "events": ["job.exploded"]}, {}, {"url": ""}):
        response = user.client.post("/webhooks", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
    unknown = "00000000-0000-0000-0000-000000000000"
    for response in (
        user.client.delete(f"/webhooks/{unknown}"),
        user.client.post(f"/webhooks/{unknown}/rotate-secret"),
        user.client.get(f"/webhooks/{unknown}/deliveries"),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "webhook_not_found"
    assert user.client.get("/webhooks/not-a-uuid/deliveries").status_code == 422


def test_a_callback_url_is_told_of_its_job_alone(stack: Stack, receiver: Receiver) -> None:
    user = new_user(stack)
    name = receiver.path("callback")
    answer = submit(user, eval_pair(PAIR), callback_url=receiver.url(name))
    assert answer.status_code == 202, answer.text
    job_id, callback = answer.json()["id"], answer.json()["callback"]
    assert callback["job_id"] == job_id and callback["secret"].startswith("whsec_")
    other = submit(user, eval_pair(OTHER_PAIR)).json()["id"]
    wait_for(user, job_id)
    wait_for(user, other)
    settled(lambda: len(receiver.got(name)) >= 1, "the callback was never called")
    time.sleep(1.5)
    (received,) = receiver.got(name)
    payload = verified(callback["secret"], received)
    assert payload["type"] == "job.completed" and payload["data"]["id"] == job_id

    refused = submit(user, eval_pair(PAIR), callback_url="http://10.0.0.1/cb")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "url_not_allowed"
    # A submit that fails after its callback was registered (here: a transcript without
    # its audio) leaves no webhook behind for the job that never was.
    unpaired = user.client.post(
        "/alignment/",
        files=[("text_files", ("lonely.txt", b"hello world", "text/plain"))],
        data={"callback_url": receiver.url(receiver.path("never"))},
    )
    assert unpaired.status_code == 422, unpaired.text
    jobs = user.client.get("/alignment/").json()["items"]
    assert sorted(j["id"] for j in jobs) == sorted([job_id, other])
    hooks = user.client.get("/webhooks").json()["items"]
    assert [h["job_id"] for h in hooks] == [job_id]


def test_rotating_a_secret_and_deleting_a_webhook(stack: Stack, receiver: Receiver) -> None:
    user, stranger = new_user(stack), new_user(stack)
    name = receiver.path()
    hook = register(user, receiver.url(name))
    rotated = user.client.post(f"/webhooks/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["id"] == hook["id"]
    assert rotated.json()["secret"] not in (hook["secret"], None)
    # Another user's webhook does not exist for them.
    assert stranger.client.get(f"/webhooks/{hook['id']}/deliveries").status_code == 404
    assert stranger.client.delete(f"/webhooks/{hook['id']}").status_code == 404

    job_id = submit(user, eval_pair(PAIR)).json()["id"]
    wait_for(user, job_id)
    settled(lambda: len(receiver.got(name)) >= 1, "no delivery after the rotation")
    (received,) = receiver.got(name)
    verified(rotated.json()["secret"], received)  # the new secret
    verified(hook["secret"], received)  # and, for a while, the old one too
    assert json.loads(received.body)["data"]["id"] == job_id

    assert user.client.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert user.client.get("/webhooks").json()["items"] == []
    assert user.client.get(f"/webhooks/{hook['id']}/deliveries").status_code == 404


def test_export_lists_webhooks_and_account_deletion_removes_them(
    stack: Stack, receiver: Receiver
) -> None:
    user = new_user(stack)
    hook = register(user, receiver.url(receiver.path()), ["job.failed"])
    exported = user.client.get("/users/me/export")
    assert exported.status_code == 200, exported.text
    assert [h["id"] for h in exported.json()["webhooks"]] == [hook["id"]]
    assert hook["secret"] not in exported.text
    assert query(stack, "notifier", "SELECT id FROM webhooks WHERE user_id = %s", user.id)

    assert user.client.delete("/users/me").status_code == 202
    eventually(
        lambda: not query(stack, "notifier", "SELECT id FROM webhooks WHERE user_id = %s", user.id),
        "the notifier kept the deleted user's webhooks",
    )


def test_deleting_a_running_job_tells_job_cancelled(
    stack: Stack, receiver: Receiver, paused_aligner: Callable[[int], None]
) -> None:
    user = new_user(stack)
    name = receiver.path("cancelled")
    hook = register(user, receiver.url(name), ["job.cancelled", "job.completed"])
    job_id = submit(user, eval_pair(PAIR)).json()["id"]
    wait_for(user, job_id, done={"STORED"})
    assert user.client.delete(f"/alignment/{job_id}").status_code == 202
    settled(lambda: len(receiver.got(name)) >= 1, "job.cancelled never came")
    paused_aligner(300)
    (received,) = receiver.got(name)
    payload = verified(hook["secret"], received)
    assert payload["type"] == "job.cancelled"
    assert (payload["data"]["id"], payload["data"]["status"]) == (job_id, "CANCELLED")
