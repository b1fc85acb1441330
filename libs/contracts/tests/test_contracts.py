from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from contracts import ALL_EVENTS, Envelope, JobSubmitted, UserDeleted, UserRegistered
from contracts.export import rendered_files, stale_files
from contracts.rpc import LoginUser, RpcError, RpcReply, UserProfile


def test_committed_asyncapi_and_json_schemas_match_the_code() -> None:
    assert stale_files() == [], "run `make contracts` and commit libs/contracts/schema"


def test_asyncapi_lists_every_event_by_versioned_routing_key() -> None:
    import json

    document = json.loads(rendered_files()["asyncapi.json"])
    for event_cls in ALL_EVENTS:
        assert event_cls.routing_key() in document["channels"]
        assert event_cls.routing_key().endswith(f".v{event_cls.VERSION}")


def test_envelope_round_trips_and_keeps_its_identity() -> None:
    original = Envelope.wrap(
        UserRegistered(user_id=uuid.uuid4()), producer="auth", correlation_id="r1"
    )
    parsed = Envelope[UserRegistered].model_validate_json(original.model_dump_json())
    assert parsed == original
    assert parsed.routing_key == "user.registered.v1"
    assert parsed.occurred_at.tzinfo is not None


def test_envelope_refuses_a_payload_of_another_type() -> None:
    registered = Envelope.wrap(
        UserRegistered(user_id=uuid.uuid4()), producer="auth", correlation_id="r"
    )
    with pytest.raises(ValidationError, match=r"carries user\.deleted\.v1"):
        Envelope[UserDeleted].model_validate_json(registered.model_dump_json())


def test_consumers_ignore_fields_added_by_newer_producers() -> None:
    event = Envelope.wrap(UserDeleted(user_id=uuid.uuid4()), producer="auth", correlation_id="r")
    data = event.model_dump(mode="json")
    data["payload"]["added_later"] = 42
    assert Envelope[UserDeleted].model_validate(data).payload == event.payload


def test_job_submitted_requires_its_pairs() -> None:
    with pytest.raises(ValidationError):
        JobSubmitted.model_validate({"job_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())})


def test_rpc_reply_has_a_result_or_an_error_never_both() -> None:
    profile = UserProfile(
        id=uuid.uuid4(), email="a@b.org", subscription="free", created_at="2026-01-01T00:00:00"
    )
    error = RpcError(code="x", message="y")
    assert RpcReply[UserProfile](result=profile).result == profile
    with pytest.raises(ValidationError):
        RpcReply[UserProfile](result=profile, error=error)
    with pytest.raises(ValidationError):
        RpcReply[UserProfile]()


def test_passwords_stay_out_of_reprs() -> None:
    request = LoginUser(email="a@b.org", password="hunter2-secret")
    assert "hunter2-secret" not in repr(request)
