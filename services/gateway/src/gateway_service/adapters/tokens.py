"""Verifies access tokens locally with auth's public key: no round trip per API call."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

__all__ = ["AccessClaims", "AccessTokenVerifier", "InvalidToken", "TokenExpired"]

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class InvalidToken(Exception):
    pass


class TokenExpired(InvalidToken):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    token_id: str | None


class AccessTokenVerifier:
    def __init__(
        self, public_key_pem: bytes, *, issuer: str, audience: str, leeway_seconds: int = 5
    ):
        key = load_pem_public_key(public_key_pem)
        if isinstance(key, ed25519.Ed25519PublicKey):
            self._algorithm = "EdDSA"
        elif isinstance(key, rsa.RSAPublicKey):
            self._algorithm = "RS256"
        else:
            raise ValueError("auth's public key must be Ed25519 or RSA")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[self._algorithm],  # only ours: no algorithm confusion
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return AccessClaims(user_id=UUID(claims["sub"]), token_id=claims.get("jti"))
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("the access token has expired") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise InvalidToken("the access token is not valid") from exc
