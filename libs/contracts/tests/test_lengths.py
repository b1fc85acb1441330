"""A message the contracts accept fits every column a service keeps it in.

Every string of every event, RPC message and model nested in them (a "slot": a field, a list's
items, a dict's keys or values) is either bounded at most at the length of each VARCHAR it
lands in, or listed in NOT_STORED with the reason. A slot lands in every column of the same
name in the services' tables (the outbox and inbox included), and in the columns LANDS_IN
names for it where the names differ. Lengths come from the real SQLAlchemy tables, so a
shorter column, a dropped max_length or a new unbounded field fails here.
"""

from __future__ import annotations

import json
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import pytest
from annotated_types import GroupedMetadata, MaxLen
from pydantic import BaseModel, EmailStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from sqlalchemy import Column, String, Table

from aligner_service.adapters import tables as aligner
from auth_service.adapters import tables as auth
from contracts import ALL_EVENTS, AlignmentDone, Envelope, FileOutcome, FilesStored, StoredFile
from contracts.files import FileRejection
from contracts.notifications import NOTIFIER_RPC_REQUESTS
from contracts.rpc import RPC_REQUESTS as KIT_RPC_REQUESTS
from contracts.rpc import RpcError
from contracts.strings import (
    ENGINE_NAME_MAX_LENGTH,
    MESSAGE_MAX_LENGTH,
    EngineName,
    LanguageCode,
)
from gateway_service.adapters import tables as gateway
from janitor_service.adapters import tables as janitor
from notifier_service.adapters import tables as notifier
from servicekit.outbox import inbox_table, outbox_table
from storage_service.adapters import tables as storage

RPC_REQUESTS = KIT_RPC_REQUESTS | NOTIFIER_RPC_REQUESTS

TABLES: dict[str, list[Table]] = {
    "aligner": list(aligner.metadata.tables.values()),
    "auth": list(auth.metadata.tables.values()),
    "gateway": list(gateway.metadata.tables.values()),
    "janitor": list(janitor.metadata.tables.values()),
    "notifier": list(notifier.metadata.tables.values()),
    "storage": list(storage.metadata.tables.values()),
    "every service": [outbox_table, inbox_table],
}

# Where a slot lands in a column of another name (same-name columns are found on their own).
LANDS_IN: dict[str, list[Column[Any]]] = {
    # storage writes the digest of each stored audio file
    "StoredFile.audio_sha256": [storage.file_storage_metadata.c.sha256],
    # the janitor's ledger of what expires when, keyed by object
    "StoredFile.audio_key": [janitor.expirations.c.object_key],
    "StoredFile.text_key": [janitor.expirations.c.object_key],
    "FileOutcome.result_keys[value]": [janitor.expirations.c.object_key],
    # published from that ledger
    "FileExpired.object_keys[]": [janitor.expirations.c.object_key],
    # the gateway shows why a file was refused as the file's error
    "FileRejection.reason": [gateway.job_files.c.error],
    # auth reads a plan by its name
    "PlanLimits.subscription": [auth.subscription_types.c.name],
}

# Slots no service keeps in a bounded column, and why.
NOT_STORED: dict[str, str] = {
    "Envelope.producer": "logged only",
    "JobSubmitted.options[key]": "options are kept as JSON in a TEXT column (jobs.options)",
    "FilesStored.options[key]": "options are kept as JSON in a TEXT column (jobs.options)",
    "FileAlignmentQueued.options[key]": "the job's options, read by the aligner, not stored",
    "SubmittedPair.text_key": "the upload under incoming/: storage reads it and deletes it",
    "JobCancelled.reason": "logged only",
    "FileRejection.code": "logged only",
    "AlignmentProgress.file_status": "compared, not kept",
    "UploadAbandoned.object_keys[]": "what the janitor deleted under incoming/: logged only",
    "FileOutcome.result_keys[key]": "format names, kept as JSON in TEXT (job_files.result_keys)",
    "RpcError.code": "a reply: the caller maps it to an HTTP status",
    "RpcError.message": "a reply: the caller shows it",
    "RpcError.details[key]": "a reply: the caller shows it",
    "TokenPair.access_token": "a reply: the client keeps it",
    "TokenPair.refresh_token": "a reply: auth keeps only its hash (refresh_tokens.token_hash)",
    "TokenPair.token_type": "a reply: a constant",
    "RegisterUser.password": "auth keeps only its argon2 hash",
    "LoginUser.password": "checked against the stored hash",
    "ChangePassword.current_password": "checked against the stored hash",
    "ChangePassword.new_password": "auth keeps only its argon2 hash",
    "RefreshSession.refresh_token": "auth looks up its hash",
    "EndSession.refresh_token": "auth looks up its hash",
    "ApiKeyCreated.key": "a reply: auth keeps only its SHA-256 (api_keys.key_hash)",
    "VerifyApiKey.key": "auth looks up its SHA-256",
    "JobView.options[key]": "the notifier keeps the job as JSON in LONGTEXT (deliveries.body)",
    "EnginesAnnounced.default_engine": "kept as a flag (engine_offers.is_default, gateway)",
    "LanguageInfo.display_name": "inside the offer's JSON (engine_offers.offer: LONGTEXT)",
    "AccuracyFigure.dataset": "inside the offer's JSON (engine_offers.offer: LONGTEXT)",
    "AccuracyFigure.measure": "inside the offer's JSON (engine_offers.offer: LONGTEXT)",
    "AccuracyFigure.source": "inside the offer's JSON (engine_offers.offer: LONGTEXT)",
    "AccuracyFigure.measured_on": "inside the offer's JSON (engine_offers.offer: LONGTEXT)",
}


@dataclass(frozen=True)
class Slot:
    name: str  # "StoredFile.audio_key", "FileExpired.object_keys[]", ...
    field: str  # the field's name, what same-name columns are matched by
    max_length: int | None


def _max_length(metadata: list[Any]) -> int | None:
    bounds: list[int] = []
    for item in metadata:
        if isinstance(item, MaxLen):
            bounds.append(item.max_length)
        elif isinstance(item, GroupedMetadata):  # StringConstraints and the like
            bound = _max_length(list(item))
            if bound is not None:
                bounds.append(bound)
        elif isinstance(item, FieldInfo):  # Annotated[str, Field(max_length=...)]
            bound = _max_length(item.metadata)
            if bound is not None:
                bounds.append(bound)
    return min(bounds, default=None)


def _walk(
    annotation: Any, metadata: list[Any], name: str, field: str, seen: set[type]
) -> Iterator[Slot]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        yield from _walk(inner, [*metadata, *extra], name, field, seen)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                yield from _walk(arg, metadata, name, field, seen)
    elif origin in (list, tuple, set, frozenset):
        # A max_length of the field bounds the list, not its items.
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from _walk(arg, [], f"{name}[]", field, seen)
    elif origin is dict:
        key, value = get_args(annotation)
        yield from _walk(key, [], f"{name}[key]", field, seen)
        yield from _walk(value, [], f"{name}[value]", field, seen)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _model_slots(annotation, seen)
    else:
        yield from _scalar(annotation, metadata, name, field)


def _scalar(annotation: Any, metadata: list[Any], name: str, field: str) -> Iterator[Slot]:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if all(isinstance(member.value, str) for member in annotation):
            yield Slot(name, field, max(len(member.value) for member in annotation))
    elif annotation is str or annotation is EmailStr:
        yield Slot(name, field, _max_length(metadata))
    elif isinstance(annotation, type) and issubclass(annotation, str):
        raise AssertionError(f"{name}: teach this test the string type {annotation!r}")
    else:
        assert annotation is Any or isinstance(annotation, TypeVar | type), (
            f"{name}: teach this test {annotation!r}"
        )


def _model_slots(model: type[BaseModel], seen: set[type]) -> Iterator[Slot]:
    if model in seen:
        return
    seen.add(model)
    for field, info in model.model_fields.items():
        name = f"{model.__name__}.{field}"
        yield from _walk(info.annotation, list(info.metadata), name, field, seen)


def contract_slots() -> list[Slot]:
    """Every string slot of the events, their envelope, the RPC messages and their models."""
    models: list[type[BaseModel]] = [Envelope, *ALL_EVENTS, *RPC_REQUESTS]
    models += [*dict.fromkeys(RPC_REQUESTS.values()), RpcError]
    seen: set[type] = set()
    return [slot for model in models for slot in _model_slots(model, seen)]


def _bounded_columns() -> list[tuple[str, Column[Any]]]:
    return [
        (service, column)
        for service, tables in TABLES.items()
        for table in tables
        for column in table.columns
        if isinstance(column.type, String) and column.type.length is not None
    ]


def columns_of(slot: Slot) -> list[tuple[str, Column[Any]]]:
    """The bounded columns the slot lands in: of its name, and those LANDS_IN names."""
    if slot.name in NOT_STORED:
        return []
    bounded = _bounded_columns()
    services = {id(column): service for service, column in bounded}  # columns overload ==
    same_name = [(s, c) for s, c in bounded if c.name == slot.field]
    named = [(services.get(id(c), "?"), c) for c in LANDS_IN.get(slot.name, [])]
    return same_name + named


def _length(column: Column[Any]) -> int | None:
    return column.type.length if isinstance(column.type, String) else None


def length_violations() -> list[str]:
    """What the contracts accept that some column cannot hold (empty when all is well)."""
    problems = []
    for slot in contract_slots():
        columns = columns_of(slot)
        if not columns and slot.name not in NOT_STORED:
            problems.append(f"{slot.name}: lands in no column; map it in LANDS_IN or NOT_STORED")
        for service, column in columns:
            length = _length(column)
            where = f"{service} {column.table.name}.{column.name} ({column.type})"
            if length is None:
                problems.append(f"{slot.name} -> {where}: not a VARCHAR with a length")
            elif slot.max_length is None:
                problems.append(f"{slot.name} -> {where}: the contract has no max_length")
            elif slot.max_length > length:
                problems.append(f"{slot.name} -> {where}: the contract allows {slot.max_length}")
    return problems


def test_every_contract_string_fits_the_columns_it_lands_in() -> None:
    assert length_violations() == []


def test_the_mappings_name_only_slots_that_exist() -> None:
    names = {slot.name for slot in contract_slots()}
    assert set(LANDS_IN) <= names
    assert set(NOT_STORED) <= names
    assert not set(LANDS_IN) & set(NOT_STORED)


def test_the_known_crossings_are_checked() -> None:
    """The walk sees nested models, lists and dicts, and the tables the bug was about."""
    slots = {slot.name: slot for slot in contract_slots()}
    landing = {
        name: {f"{c.table.name}.{c.name}" for _, c in columns_of(slots[name])}
        for name in ("FilesStored.engine", "StoredFile.stem", "FileOutcome.result_keys[value]")
    }
    assert "alignment_runs.engine" in landing["FilesStored.engine"]
    assert {"job_files.stem", "corpus_files.stem"} <= landing["StoredFile.stem"]
    assert landing["FileOutcome.result_keys[value]"] == {"expirations.object_key"}


def test_a_shorter_column_or_a_dropped_bound_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aligner.alignment_runs.c.engine.type, "length", 32)
    assert any(p.startswith("FilesStored.engine -> aligner") for p in length_violations())
    monkeypatch.undo()
    unbounded = FileRejection.model_fields["reason"]
    monkeypatch.setattr(unbounded, "metadata", [])
    monkeypatch.setattr(unbounded, "annotation", str)
    assert any(p.startswith("FileRejection.reason -> gateway") for p in length_violations())


def test_every_routing_key_fits_the_outbox_and_the_inbox() -> None:
    event_type_bound = _max_length(Envelope.model_fields["event_type"].metadata)
    assert event_type_bound is not None
    for event_cls in ALL_EVENTS:
        assert len(event_cls.EVENT_TYPE) <= event_type_bound
        for column in (outbox_table.c.routing_key, inbox_table.c.event_type):
            length = _length(column)
            assert length is not None
            assert len(event_cls.routing_key()) <= length


def _files_stored(engine: str) -> str:
    stored = StoredFile(
        corpus_file_id=uuid.uuid4(),
        index=0,
        stem="utt01",
        audio_name="utt01.wav",
        text_name="utt01.txt",
        audio_key="u/corpus/j/f.wav",
        text_key="u/corpus/j/f.txt",
        duration_seconds=1.5,
        stored_bytes=100,
        audio_sha256="0" * 64,
        expires_at="2030-01-01T00:00:00Z",
    )
    event = FilesStored(
        job_id=uuid.uuid4(), user_id=uuid.uuid4(), language="en", files=[stored], total_bytes=100
    )
    document = Envelope.wrap(event, producer="storage", correlation_id="c").model_dump(mode="json")
    document["payload"]["engine"] = engine  # as another producer could have written it
    return json.dumps(document)


def test_an_engine_longer_than_its_column_is_refused_at_the_contract() -> None:
    accepted = Envelope[FilesStored].model_validate_json(_files_stored("e" * 64))
    assert accepted.payload.engine == "e" * 64
    with pytest.raises(ValidationError, match="engine"):
        Envelope[FilesStored].model_validate_json(_files_stored("e" * 80))


def test_prose_longer_than_its_column_is_cut_to_fit() -> None:
    long = "why " * 1000
    outcome = FileOutcome(corpus_file_id=uuid.uuid4(), status="FAILED", error=long)
    assert outcome.error is not None
    assert len(outcome.error) == MESSAGE_MAX_LENGTH
    assert outcome.error.endswith("…")
    done = AlignmentDone(
        job_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        status="FAILED",
        engine="e",
        files=[outcome],
        error=long,
    )
    parsed = AlignmentDone.model_validate_json(done.model_dump_json())
    assert parsed.error is not None
    assert len(parsed.error) == MESSAGE_MAX_LENGTH
    assert FileOutcome(corpus_file_id=uuid.uuid4(), status="FAILED", error="short").error == (
        "short"
    )


def test_the_gateway_accepts_no_engine_or_language_the_contract_refuses() -> None:
    from gateway_service.service_layer.submit import ENGINE, LANGUAGE

    engine, language = TypeAdapter(EngineName), TypeAdapter(LanguageCode)
    longest_engine = "a" * ENGINE_NAME_MAX_LENGTH
    assert ENGINE.match(longest_engine)
    assert engine.validate_python(longest_engine) == longest_engine
    assert not ENGINE.match(longest_engine + "a")
    with pytest.raises(ValidationError):
        engine.validate_python(longest_engine + "a")
    longest_language = "abc-" + "A1b2C3d4"  # [a-z]{2,3} and a subtag of up to 8
    assert LANGUAGE.match(longest_language)
    assert not LANGUAGE.match(longest_language + "x")
    assert language.validate_python(longest_language) == longest_language


def test_the_gateway_refuses_a_trailing_newline() -> None:
    """submit.py checks with fullmatch: ``$`` alone would also accept a final newline."""
    from gateway_service.service_layer.submit import ENGINE, LANGUAGE

    assert not ENGINE.fullmatch("a" * ENGINE_NAME_MAX_LENGTH + "\n")
    assert not LANGUAGE.fullmatch("en\n")
