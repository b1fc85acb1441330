from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway_service.adapters.tokens import AccessTokenVerifier, InvalidToken, TokenExpired

KEY = ed25519.Ed25519PrivateKey.generate()
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
OLD_KEY = ed25519.Ed25519PrivateKey.generate()
OLD_PEM = OLD_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
VERIFIER = AccessTokenVerifier(
    {"k2": PUBLIC_PEM, "k1": OLD_PEM}, issuer="alignment-auth", audience="alignment-api"
)


def valid_claims() -> dict[str, object]:
    """What auth puts in an access token, valid for 5 minutes."""
    now = int(time.time())
    return {
        "iss": "alignment-auth",
        "aud": "alignment-api",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
        "jti": "j1",
        "sid": str(uuid.uuid4()),
    }


def token(
    key: object = KEY,
    algorithm: str = "EdDSA",
    drop: str | None = None,
    kid: str = "k2",
    **claims: object,
) -> str:
    payload = valid_claims() | claims
    if drop:
        payload.pop(drop)
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})  # type: ignore[arg-type]


def test_a_valid_token_names_its_user() -> None:
    user_id = uuid.uuid4()
    assert VERIFIER.verify(token(sub=str(user_id))).user_id == user_id


def test_tokens_of_a_retired_key_still_pass_until_it_is_removed() -> None:
    session = uuid.uuid4()
    claims = VERIFIER.verify(token(key=OLD_KEY, kid="k1", sid=str(session)))
    assert claims.session_id == session
    only_new = AccessTokenVerifier(
        {"k2": PUBLIC_PEM}, issuer="alignment-auth", audience="alignment-api"
    )
    with pytest.raises(InvalidToken):
        only_new.verify(token(key=OLD_KEY, kid="k1"))


def test_an_expired_token_is_told_apart() -> None:
    with pytest.raises(TokenExpired):
        VERIFIER.verify(token(exp=int(time.time()) - 60))


@pytest.mark.parametrize(
    "bad",
    [
        token(key=ed25519.Ed25519PrivateKey.generate()),
        token(aud="other-api"),
        token(iss="other-issuer"),
        token(sub="not-a-uuid"),
        token(drop="exp"),
        token(drop="sub"),
        token(drop="sid"),
        token(drop="jti"),
        token(kid="k9"),
        token(key=OLD_KEY, kid="k2"),  # a retired key cannot pose as the current one
        "not.a.token",
    ],
)
def test_forged_or_foreign_tokens_are_refused(bad: str) -> None:
    with pytest.raises(InvalidToken):
        VERIFIER.verify(bad)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handmade(alg: str) -> tuple[str, str]:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k2"}).encode())
    return header, _b64(json.dumps(valid_claims()).encode())


def test_unsigned_token_is_refused() -> None:
    header, claims = _handmade("none")
    with pytest.raises(InvalidToken):
        VERIFIER.verify(f"{header}.{claims}.")


def test_hmac_signed_with_the_public_key_is_refused() -> None:
    """Algorithm confusion: the public key is no shared secret."""
    header, claims = _handmade("HS256")
    signature = hmac.new(PUBLIC_PEM, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        VERIFIER.verify(f"{header}.{claims}.{_b64(signature)}")
