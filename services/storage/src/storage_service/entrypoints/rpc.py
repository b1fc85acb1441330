"""storage's answers to other services' requests."""

from __future__ import annotations

from contracts.rpc import CountStoredUsage, StoredUsage
from servicekit.rpc import serve_rpc
from servicekit.runtime import ServiceRuntime
from storage_service.service_layer.usage import count_stored_usage

__all__ = ["register_rpc"]


def register_rpc(runtime: ServiceRuntime) -> None:
    async def stored_usage(request: CountStoredUsage) -> StoredUsage:
        return await count_stored_usage(request, runtime.unit_of_work)

    serve_rpc(runtime.broker, runtime.topology, CountStoredUsage, StoredUsage, stored_usage)
