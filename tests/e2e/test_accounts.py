"""Registration, login and /auth/me through the public gateway, against the running system."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from devstack import SERVICES, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url("gateway") + "/api/v1", timeout=15) as client:
        yield client


def new_email() -> str:
    return f"user-{secrets.token_hex(5)}@example.org"


def register(
    api: httpx.Client, email: str, password: str = "correct horse battery"
) -> httpx.Response:
    return api.post("/auth/register", json={"email": email, "password": password})


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def test_every_service_is_ready(stack: Stack) -> None:
    for service in SERVICES:
        response = httpx.get(stack.url(service) + "/readyz", timeout=5)
        assert response.status_code == 200, (service, response.text)
        assert set(response.json()["checks"].values()) == {"ok"}
        assert httpx.get(stack.url(service) + "/metrics").text.count("events_consumed_total") >= 1


def test_register_login_and_me(api: httpx.Client) -> None:
    email = new_email()
    created = register(api, email.upper())
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == email  # stored lower-cased
    assert "password" not in created.text and "hash" not in created.text

    login = api.post("/auth/login", json={"email": email, "password": "correct horse battery"})
    assert login.status_code == 200, login.text
    tokens = login.json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0 and tokens["refresh_token"]

    me = api.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user["id"] and me.json()["email"] == email


def test_wrong_password_and_unknown_email_are_refused_alike(api: httpx.Client) -> None:
    email = new_email()
    assert register(api, email).status_code == 201
    wrong = api.post("/auth/login", json={"email": email, "password": "not the password"})
    unknown = api.post("/auth/login", json={"email": new_email(), "password": "whatever123"})
    assert_error(wrong, 401, "invalid_credentials")
    assert_error(unknown, 401, "invalid_credentials")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_duplicate_email_is_a_conflict_whatever_its_case(api: httpx.Client) -> None:
    email = new_email()
    assert register(api, email).status_code == 201
    assert_error(register(api, email), 409, "email_taken")
    assert_error(register(api, email.upper()), 409, "email_taken")


@pytest.mark.parametrize(
    ("body", "content"),
    [
        ({"email": "not-an-email", "password": "long enough pw"}, None),
        ({"email": "a@example.org", "password": "short"}, None),
        ({"email": "a@example.org"}, None),
        ({"email": "a@example.org", "password": "x" * 10_000}, None),
        (None, b"{not json"),
        (None, b"[]"),
    ],
)
def test_malformed_registration_is_422_without_echoing_input(
    api: httpx.Client, body: dict[str, str] | None, content: bytes | None
) -> None:
    response = (
        api.post("/auth/register", json=body)
        if body is not None
        else api.post(
            "/auth/register", content=content, headers={"content-type": "application/json"}
        )
    )
    assert_error(response, 422, "validation_error")
    assert response.json()["error"]["details"]["errors"]
    assert "long enough pw" not in response.text


def forge_token(
    stack: Stack,
    *,
    key: ed25519.Ed25519PrivateKey | None = None,
    claims: dict[str, object] | None = None,
) -> str:
    """A token as auth would sign it (with its real key unless another is given)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    signing_key = key or load_pem_private_key(
        stack.secrets.jwt_private_key_file.read_bytes(), password=None
    )
    now = int(time.time())
    payload = {
        "iss": "alignment-auth",
        "aud": "alignment-api",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
    } | (claims or {})
    return jwt.encode(payload, signing_key, algorithm="EdDSA", headers={"kid": "k1"})  # type: ignore[arg-type]


def me_with(api: httpx.Client, token: str) -> httpx.Response:
    return api.get("/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_expired_token_is_refused(api: httpx.Client, stack: Stack) -> None:
    now = int(time.time())
    response = me_with(api, forge_token(stack, claims={"iat": now - 3600, "exp": now - 60}))
    assert_error(response, 401, "token_expired")
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_signed_by_another_key_is_refused(api: httpx.Client, stack: Stack) -> None:
    response = me_with(api, forge_token(stack, key=ed25519.Ed25519PrivateKey.generate()))
    assert_error(response, 401, "invalid_token")


@pytest.mark.parametrize(
    "claims", [{"aud": "someone-else"}, {"iss": "someone-else"}, {"sub": "not-a-uuid"}]
)
def test_token_for_another_audience_or_issuer_is_refused(
    api: httpx.Client, stack: Stack, claims: dict[str, object]
) -> None:
    assert_error(me_with(api, forge_token(stack, claims=claims)), 401, "invalid_token")


def test_valid_token_of_an_unknown_account_is_refused(api: httpx.Client, stack: Stack) -> None:
    assert_error(me_with(api, forge_token(stack)), 401, "invalid_token")


def test_missing_or_garbage_token_is_refused(api: httpx.Client) -> None:
    assert_error(api.get("/auth/me"), 401, "not_authenticated")
    assert_error(me_with(api, "garbage"), 401, "invalid_token")


def test_unknown_path_is_json_404(api: httpx.Client) -> None:
    assert_error(api.get("/no/such/path"), 404, "not_found")


def test_auth_down_is_a_prompt_503_not_a_hang(api: httpx.Client, stack: Stack) -> None:
    stack.stop_service("auth")
    try:
        started = time.monotonic()
        response = api.post("/auth/login", json={"email": new_email(), "password": "whatever123"})
        assert_error(response, 503, "service_unavailable")
        assert response.headers["retry-after"]
        assert time.monotonic() - started < 10
    finally:
        stack.start_service("auth")
        stack.wait_ready(("auth",))
    assert register(api, new_email()).status_code == 201
