"""Verifies access tokens locally with auth's public key: no round trip per API call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

__all__ = ["AccessClaims", "AccessTokenVerifier", "InvalidToken", "TokenExpired"]

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti", "sid"]


class InvalidToken(Exception):
    pass


class TokenExpired(InvalidToken):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    token_id: str
    session_id: UUID


def _verification_key(pem: bytes) -> tuple[Any, str]:
    key = load_pem_public_key(pem)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        return key, "RS256"
    raise ValueError("auth's public keys must be Ed25519 or RSA")


class AccessTokenVerifier:
    """Keys by ``kid``: the current one, and retired ones kept until their tokens expire."""

    def __init__(
        self, public_keys: dict[str, bytes], *, issuer: str, audience: str, leeway_seconds: int = 5
    ):
        if not public_keys:
            raise ValueError("at least one public key is needed")
        self._keys = {kid: _verification_key(pem) for kid, pem in public_keys.items()}
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> AccessClaims:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in self._keys:
                raise InvalidToken("the access token is signed with a key we do not know")
            key, algorithm = self._keys[kid]
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],  # only the key's own: no algorithm confusion
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                token_id=str(claims["jti"]),
                session_id=UUID(claims["sid"]),
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("the access token has expired") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise InvalidToken("the access token is not valid") from exc
