from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["IssuedRefreshToken", "TokenIssuer", "hash_refresh_token"]


def hash_refresh_token(token: str) -> str:
    # Refresh tokens are 256 random bits: a fast hash is enough, unlike passwords.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedRefreshToken:
    token: str
    token_hash: str
    expires_at: datetime


class TokenIssuer:
    def __init__(
        self,
        private_key_pem: bytes,
        *,
        key_id: str,
        issuer: str,
        audience: str,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        self._key = load_pem_private_key(private_key_pem, password=None)
        self._algorithm = "EdDSA" if isinstance(self._key, ed25519.Ed25519PrivateKey) else "RS256"
        self._key_id = key_id
        self._issuer = issuer
        self._audience = audience
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl

    def access_token(self, user_id: UUID, session_id: UUID, now: datetime) -> str:
        if now.tzinfo is None:  # naive datetimes in this codebase are UTC
            now = now.replace(tzinfo=UTC)
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "iat": int(now.timestamp()),
            "exp": int((now + self.access_ttl).timestamp()),
            "jti": str(uuid4()),
            "sid": str(session_id),  # ending the session ends its access tokens too
        }
        return jwt.encode(
            claims,
            self._key,  # type: ignore[arg-type]
            algorithm=self._algorithm,
            headers={"kid": self._key_id},
        )

    def refresh_token(self, now: datetime) -> IssuedRefreshToken:
        token = secrets.token_urlsafe(32)
        return IssuedRefreshToken(token, hash_refresh_token(token), now + self.refresh_ttl)
