"""Writes (or checks) the AsyncAPI document and JSON Schemas of every contract.

python -m contracts.export          # rewrite libs/contracts/schema/
python -m contracts.export --check  # exit 1 when the committed files are stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue
from faststream.specification import AsyncAPI

from contracts import ALL_EVENTS, EVENTS_EXCHANGE, Envelope
from contracts.notifications import NOTIFIER_RPC_REQUESTS
from contracts.rpc import RPC_REQUESTS, RpcReply

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


def asyncapi_document() -> dict[str, Any]:
    broker = RabbitBroker(description="Forced-alignment platform: events between services")
    exchange = RabbitExchange(EVENTS_EXCHANGE, type=ExchangeType.TOPIC)
    for event_cls in ALL_EVENTS:
        broker.publisher(
            exchange=exchange,
            routing_key=event_cls.routing_key(),
            schema=Envelope[event_cls],  # type: ignore[valid-type]
            title=event_cls.routing_key(),
            description=(event_cls.__doc__ or event_cls.__name__).strip(),
        )
    for request_cls, result_cls in (RPC_REQUESTS | NOTIFIER_RPC_REQUESTS).items():

        async def answer(request: request_cls) -> RpcReply[result_cls]:  # type: ignore[valid-type]
            raise NotImplementedError  # documentation only: auth, storage, notifier answer

        broker.subscriber(RabbitQueue(request_cls.QUEUE), title=request_cls.QUEUE)(answer)
    spec = AsyncAPI(broker, title="alignment-platform events", version="1.0.0")
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def json_schemas() -> dict[str, dict[str, Any]]:
    schemas = {
        f"events/{cls.routing_key()}.json": Envelope[cls].model_json_schema()  # type: ignore[valid-type]
        for cls in ALL_EVENTS
    }
    for request_cls, result_cls in (RPC_REQUESTS | NOTIFIER_RPC_REQUESTS).items():
        schemas[f"rpc/{request_cls.QUEUE}.request.json"] = request_cls.model_json_schema()
        schemas[f"rpc/{request_cls.QUEUE}.reply.json"] = RpcReply[
            result_cls  # type: ignore[valid-type]
        ].model_json_schema()
    return schemas


def rendered_files() -> dict[str, str]:
    files = {"asyncapi.json": asyncapi_document(), **json_schemas()}
    return {name: json.dumps(doc, indent=2, sort_keys=True) + "\n" for name, doc in files.items()}


def stale_files(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names whose committed text differs from what the code renders (or that are extra)."""
    expected = rendered_files()
    stale = [
        name
        for name, text in expected.items()
        if not (directory / name).is_file() or (directory / name).read_text() != text
    ]
    committed = {str(p.relative_to(directory)) for p in directory.rglob("*.json")}
    stale += sorted(committed - expected.keys())
    return stale


def write_all(directory: Path = SCHEMA_DIR) -> None:
    for old in directory.rglob("*.json"):
        old.unlink()
    for name, text in rendered_files().items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("contract export is stale; run `make contracts`:", *stale, sep="\n  ")
            return 1
        print("contract export is up to date")
        return 0
    write_all()
    print(f"wrote {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
