"""Request/reply over RabbitMQ: the server side (answer typed requests, map domain errors
to typed replies) and the client side (call with a timeout, get the result or an error)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.rabbit import RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel, ValidationError

from contracts.rpc import RpcError, RpcReply, RpcRequest
from servicekit.errors import DomainError, validation_errors
from servicekit.logs import bind_context, get_logger
from servicekit.messaging import Topology

__all__ = ["RpcClient", "RpcFailed", "RpcUnavailable", "serve_rpc"]

log = get_logger(__name__)

RequestT = TypeVar("RequestT", bound=RpcRequest)
ResultT = TypeVar("ResultT", bound=BaseModel)


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
                    code="invalid_request",
                    message="invalid request",
                    details={"errors": validation_errors(exc)},
                )
            )
        with bind_context(correlation_id=request.correlation_id):
            try:
                result = await answer(request)
            except DomainError as exc:
                log.info("rpc.refused", rpc=request_cls.QUEUE, code=exc.code)
                return reply_cls(
                    error=RpcError(code=exc.code, message=exc.message, details=exc.details)
                )
            except Exception:
                log.exception("rpc.failed", rpc=request_cls.QUEUE)
                return reply_cls(
                    error=RpcError(
                        code="internal_error", message="the request could not be completed"
                    )
                )
            log.info("rpc.answered", rpc=request_cls.QUEUE)
            return reply_cls(result=result)

    respond.__name__ = answer.__name__
    broker.subscriber(topology.rpc_queue(request_cls), title=request_cls.QUEUE)(respond)


class RpcUnavailable(Exception):
    """No answer in time (the other service is down or overloaded)."""


class RpcFailed(Exception):
    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


class RpcClient:
    def __init__(self, broker: RabbitBroker, topology: Topology, timeout_seconds: float) -> None:
        self._broker = broker
        self._topology = topology
        self._timeout = timeout_seconds

    async def call(self, request: RpcRequest, result_cls: type[ResultT]) -> ResultT:
        try:
            response = await self._broker.request(
                request.model_dump_json().encode(),
                queue=self._topology.rpc_queue(type(request)).name,
                timeout=self._timeout,
                correlation_id=request.correlation_id,
                content_type="application/json",
            )
        except TimeoutError as exc:
            raise RpcUnavailable(
                f"no answer from {type(request).QUEUE} in {self._timeout} s"
            ) from exc
        reply = RpcReply[result_cls].model_validate_json(response.body)  # type: ignore[valid-type]
        if reply.error is not None:
            raise RpcFailed(reply.error)
        assert reply.result is not None  # guaranteed by RpcReply's validator
        return reply.result
