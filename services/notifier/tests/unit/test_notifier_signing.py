"""Signatures receivers verify with the standardwebhooks library."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifier_service.domain.signing import SECRET_PREFIX, new_secret, signed_headers

BODY = '{"type":"job.completed","timestamp":"2026-11-30T12:00:00Z","data":{"id":"x"}}'


def test_secrets_are_whsec_base64_of_24_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 24
    assert new_secret() != secret


def test_a_signature_verifies_with_standardwebhooks() -> None:
    secret = new_secret()
    headers = signed_headers("msg_1", BODY, [secret])
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "job.completed",
        "timestamp": "2026-11-30T12:00:00Z",
        "data": {"id": "x"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("x", "y"), headers)


def test_the_signature_is_hmac_sha256_of_id_timestamp_and_body() -> None:
    secret = new_secret()
    moment = datetime(2026, 11, 30, 12, 0, 5, 123456, tzinfo=UTC)
    headers = signed_headers("msg_2", BODY, [secret], moment)
    assert headers["webhook-id"] == "msg_2"
    assert headers["webhook-timestamp"] == str(int(moment.timestamp()))
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"msg_2.{headers['webhook-timestamp']}.{BODY}".encode(), hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(digest.digest()).decode()


def test_after_a_rotation_either_secret_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers("msg_3", BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
