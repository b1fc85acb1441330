"""Short-lived tokens for one job's event stream, for clients that cannot send headers
(a browser's EventSource): HMAC-signed by the gateway (auth's keys sign only auth's tokens),
naming the user and the job, good for minutes. Verified with PyJWT (HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

__all__ = ["InvalidStreamToken", "IssuedStreamToken", "StreamTokenExpired", "StreamTokens"]

ALGORITHM = "HS256"
ISSUER = "alignment-gateway"
AUDIENCE = "alignment-job-events"  # these tokens open an event stream and nothing else
MIN_SECRET_BYTES = 32


class InvalidStreamToken(Exception):
    pass


class StreamTokenExpired(InvalidStreamToken):
    pass


@dataclass(frozen=True)
class IssuedStreamToken:
    token: str
    expires_at: datetime


class StreamTokens:
    def __init__(self, secret: bytes, ttl: timedelta, leeway_seconds: int = 0) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the stream token secret needs at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._ttl = ttl
        self._leeway = leeway_seconds

    def issue(self, user_id: UUID, job_id: UUID, now: datetime | None = None) -> IssuedStreamToken:
        now = now or datetime.now(UTC)
        expires_at = now + self._ttl
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(user_id),
            "job": str(job_id),
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedStreamToken(token, expires_at.replace(microsecond=0))

    def verify(self, token: str, job_id: UUID) -> UUID:
        """The user the token was issued to, if it is genuine, unexpired and for this job."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "job"]},
            )
            if claims["job"] != str(job_id):
                raise InvalidStreamToken("this stream token is for another job")
            return UUID(claims["sub"])
        except jwt.ExpiredSignatureError as exc:
            raise StreamTokenExpired("the stream token has expired; ask for another") from exc
        except (jwt.InvalidTokenError, ValueError) as exc:
            raise InvalidStreamToken("the stream token is not valid") from exc
