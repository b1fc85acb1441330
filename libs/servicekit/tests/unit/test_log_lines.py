"""One JSON line per event, whoever logs it: FastStream's broker and app loggers, uvicorn,
aio-pika and aiormq go through the kit's renderer; a traceback stays inside its line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aio_pika.exceptions import AMQPConnectionError, ChannelInvalidStateError

from servicekit.logs import bind_context, configure_logging
from servicekit.runtime import ServiceRuntime
from servicekit.settings import ServiceSettings

CONTEXT_KEYS = {"service", "correlation_id", "job_id", "user_id", "level", "timestamp", "event"}


def read_lines(path: Path) -> list[dict[str, Any]]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    raw = path.read_text().splitlines()
    assert all("\x1b[" not in line for line in raw), "colour codes in the log"
    lines = [json.loads(line) for line in raw]  # fails on any line that is not JSON
    for line in lines:
        assert set(line) >= CONTEXT_KEYS, line
    return lines


def failure(message: str) -> RuntimeError:
    try:
        raise RuntimeError(message)
    except RuntimeError as exc:
        return exc


def test_faststream_and_uvicorn_lines_are_json_one_per_event(
    tmp_path: Path, restore_logging: None
) -> None:
    log_file = tmp_path / "service.log"
    settings = ServiceSettings(
        db_url="mysql+aiomysql://user:pw@127.0.0.1:3306/unused",  # type: ignore[arg-type]
        log_file=str(log_file),
    )
    runtime = ServiceRuntime("unit-svc", settings, tmp_path)  # configures logging
    runtime.broker._setup_logger()  # what broker.connect() does: FastStream's logger state
    broker_log = runtime.broker.config.logger
    assert runtime.stream.logger is not None

    with bind_context(correlation_id="c-9", job_id="j-9"):
        # as FastStream's subscriber middleware logs a handler's failure
        broker_log.log(
            "RuntimeError: handler failed",
            log_level=logging.ERROR,
            exc_info=failure("handler failed"),
            extra={"queue": "q", "exchange": "x", "message_id": "m-1"},
        )
    broker_log.log("Received", log_level=logging.DEBUG)  # below the service's level
    runtime.stream.logger.log(logging.INFO, "FastStream app starting...")
    logging.getLogger("faststream").error("app failed", exc_info=failure("app failed"))
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    logging.getLogger("uvicorn.error").error(
        "Exception in ASGI application\n", exc_info=failure("not logged before")
    )
    logging.getLogger("uvicorn").info("Shutting down")

    lines = read_lines(log_file)
    assert [line["event"] for line in lines] == [
        "RuntimeError: handler failed",
        "FastStream app starting...",
        "app failed",
        "Started server process [42]",
        "Exception in ASGI application\n",
        "Shutting down",
    ]
    assert {line["service"] for line in lines} == {"unit-svc"}
    handler_failure = lines[0]
    assert (handler_failure["correlation_id"], handler_failure["job_id"]) == ("c-9", "j-9")
    assert (handler_failure["level"], handler_failure["queue"]) == ("error", "q")
    for line in (lines[0], lines[2], lines[4]):
        assert line["exception"].startswith("Traceback (most recent call last)")
        assert "RuntimeError" in line["exception"]
    assert "color_message" not in lines[3]


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        ("aiormq.connection", "error when creating transport: %r", (AMQPConnectionError(111),)),
        (
            "aiormq.connection",
            'Unexpected connection close from remote "%s", Connection.Close(reply_code=%r)',
            ("amqp://h", 320),
        ),
        (
            "aio_pika.tools",
            "Callback %r error: %s: %s",
            ("<cb>", "ChannelInvalidStateError", ChannelInvalidStateError("No transport")),
        ),
        (
            "aio_pika.tools",
            "Callback %r error: %s: %s",
            ("<cb>", "RuntimeError", RuntimeError('<Connection: "amqp://h" at 0x1> closed')),
        ),
        (
            "aio_pika.robust_connection",
            "Reconnect attempt failed %s due to %s: %s. Retrying after %r seconds.",
            ("<conn>", "ConnectionResetError", ConnectionResetError(), 5),
        ),
    ],
)
def test_connection_lost_and_reconnect_errors_arrive_as_warnings(
    tmp_path: Path, restore_logging: None, logger: str, message: str, args: tuple[object, ...]
) -> None:
    configure_logging("unit-svc", log_file=str(tmp_path / "service.log"))
    logging.getLogger(logger).error(message, *args)
    [line] = read_lines(tmp_path / "service.log")
    assert line["level"] == "warning"


def test_other_errors_keep_their_level(tmp_path: Path, restore_logging: None) -> None:
    configure_logging("unit-svc", log_file=str(tmp_path / "service.log"))
    for exc in (ValueError("a bug"), RuntimeError("a bug")):
        logging.getLogger("aio_pika.tools").error(
            "Callback %r error: %s: %s", "<cb>", type(exc).__name__, exc
        )
    logging.getLogger("faststream.broker").error(
        "ConnectionError: handler failed", exc_info=ConnectionError("handler failed")
    )
    lines = read_lines(tmp_path / "service.log")
    assert [line["level"] for line in lines] == ["error", "error", "error"]
