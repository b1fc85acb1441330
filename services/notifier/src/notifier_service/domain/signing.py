"""Standard Webhooks signatures: secrets ``whsec_<base64>``, and the three headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`` keyed with the secret's decoded bytes), made with the
``standardwebhooks`` library so that receivers verify with the same code."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

__all__ = ["SECRET_BYTES", "SECRET_PREFIX", "new_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 24  # 192 bits; "whsec_" + 32 base64 characters


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(
    message_id: str, body: str, secrets_: Sequence[str], moment: datetime | None = None
) -> dict[str, str]:
    """The headers of one attempt; every secret in ``secrets_`` signs (after a rotation,
    the new one and, for a while, the old one: a receiver with either verifies)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    signatures = [Webhook(s).sign(message_id, moment, body) for s in secrets_]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
