"""Request/reply over RabbitMQ: the server side (answer typed requests, map domain errors
to typed replies) and the client side (call with a timeout, get the result or an error).

The client keeps its own connection and one reply queue, and runs any number of calls at
once (FastStream's ``broker.request`` serialises them behind one lock, and waits without a
bound for a connection that is away). A call answers or raises within its timeout whatever
the broker does; while the connection is down it raises at once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel, ValidationError

from contracts.errors import RpcErrorCode
from contracts.rpc import RpcError, RpcReply, RpcRequest
from servicekit.errors import DomainError, Unavailable, is_unavailable, validation_errors
from servicekit.logs import bind_context, get_logger
from servicekit.messaging import Topology, raw_body
from servicekit.metrics import RPC_SECONDS
from servicekit.tracing import client_span, inject, tag_span

__all__ = ["RpcClient", "RpcFailed", "RpcUnavailable", "serve_rpc"]

log = get_logger(__name__)

RequestT = TypeVar("RequestT", bound=RpcRequest)
ResultT = TypeVar("ResultT", bound=BaseModel)

RECONNECT_SECONDS = 1.0


def serve_rpc(
    broker: RabbitBroker,
    topology: Topology,
    request_cls: type[RequestT],
    result_cls: type[ResultT],
    answer: Callable[[RequestT], Awaitable[ResultT]],
) -> None:
    reply_cls = RpcReply[result_cls]  # type: ignore[valid-type]

    async def respond(message: RabbitMessage) -> Any:
        try:
            request = request_cls.model_validate_json(message.body)
        except ValidationError as exc:
            return reply_cls(
                error=RpcError(
                    code=RpcErrorCode.INVALID_REQUEST,
                    message="invalid request",
                    details={"errors": validation_errors(exc)},
                )
            )
        with bind_context(correlation_id=request.correlation_id):
            tag_span({"correlation_id": request.correlation_id})
            try:
                result = await answer(request)
            except DomainError as exc:
                log.info("rpc.refused", rpc=request_cls.QUEUE, code=exc.code)
                return reply_cls(
                    error=RpcError(code=exc.code, message=exc.message, details=exc.details)
                )
            except Exception as exc:
                if is_unavailable(exc):
                    log.warning("rpc.unavailable", rpc=request_cls.QUEUE, error=type(exc).__name__)
                    return reply_cls(
                        error=RpcError(
                            code=RpcErrorCode.SERVICE_UNAVAILABLE,
                            message="the service cannot reach its database; please retry shortly",
                        )
                    )
                log.exception("rpc.failed", rpc=request_cls.QUEUE)
                return reply_cls(
                    error=RpcError(
                        code=RpcErrorCode.INTERNAL_ERROR,
                        message="the request could not be completed",
                    )
                )
            log.info("rpc.answered", rpc=request_cls.QUEUE)
            return reply_cls(result=result)

    respond.__name__ = answer.__name__
    broker.subscriber(topology.rpc_queue(request_cls), title=request_cls.QUEUE, decoder=raw_body)(
        respond
    )


class RpcUnavailable(Unavailable):
    """No answer in time (the other service or the broker is down or overloaded)."""


class RpcFailed(Exception):
    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


class RpcClient:
    """``start()`` before the first call (a service does it as it starts), ``stop()`` at the
    end. ``ready()`` is part of the caller's readiness."""

    def __init__(
        self, amqp_url: str, topology: Topology, timeout_seconds: float, *, owner: str
    ) -> None:
        self._url = amqp_url
        self._topology = topology
        self._timeout = timeout_seconds
        # One reply queue per process, named by us so that a reconnect declares it again
        # under the same name (exclusive: it goes when the connection goes).
        self._reply_queue = topology.name(f"{owner}.rpc-replies.{uuid.uuid4().hex[:12]}")
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._pending: dict[str, asyncio.Future[AbstractIncomingMessage]] = {}

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self._url, reconnect_interval=RECONNECT_SECONDS, fail_fast=True
        )
        self._channel = await self._connection.channel(publisher_confirms=False)
        queue = await self._channel.declare_queue(
            self._reply_queue, exclusive=True, auto_delete=True
        )
        await queue.consume(self._on_reply, no_ack=True)

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        for future in self._pending.values():
            future.cancel()

    def ready(self) -> bool:
        return (
            self._connection is not None
            and self._channel is not None
            and not self._connection.is_closed
            and not self._channel.is_closed
        )

    async def ready_check(self) -> bool:
        return self.ready()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is not None and not future.done():
            future.set_result(message)

    async def call(self, request: RpcRequest, result_cls: type[ResultT]) -> ResultT:
        """The result, or :class:`RpcFailed` (a typed refusal) or :class:`RpcUnavailable`;
        each call's time is observed in ``rpc_client_seconds`` by outcome."""
        started, outcome = time.perf_counter(), "unavailable"
        try:
            result = await self._call(request, result_cls)
            outcome = "ok"
            return result
        except RpcFailed:
            outcome = "refused"
            raise
        finally:
            RPC_SECONDS.labels(type(request).QUEUE, outcome).observe(time.perf_counter() - started)

    async def _call(self, request: RpcRequest, result_cls: type[ResultT]) -> ResultT:
        name = type(request).QUEUE
        if not self.ready():
            raise RpcUnavailable(f"the broker is unreachable; {name} not sent")
        assert self._channel is not None
        key = uuid.uuid4().hex
        future = self._pending[key] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(self._timeout):
                with client_span(f"{name} call", correlation_id=request.correlation_id):
                    await self._channel.default_exchange.publish(
                        aio_pika.Message(
                            request.model_dump_json().encode(),
                            content_type="application/json",
                            correlation_id=key,
                            reply_to=self._reply_queue,
                            expiration=self._timeout,  # worthless once we stopped waiting
                            headers=inject({}),  # the caller's trace goes on in the answer
                        ),
                        routing_key=self._topology.rpc_queue(type(request)).name,
                    )
                    response = await future
        except TimeoutError as exc:
            raise RpcUnavailable(f"no answer from {name} in {self._timeout} s") from exc
        except Exception as exc:
            if is_unavailable(exc) or isinstance(exc, aio_pika.exceptions.AMQPException):
                raise RpcUnavailable(f"{name} could not be sent: {type(exc).__name__}") from exc
            raise
        finally:
            self._pending.pop(key, None)
        reply = RpcReply[result_cls].model_validate_json(response.body)  # type: ignore[valid-type]
        if reply.error is not None:
            raise RpcFailed(reply.error)
        assert reply.result is not None  # guaranteed by RpcReply's validator
        return reply.result
