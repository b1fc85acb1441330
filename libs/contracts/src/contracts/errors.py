"""Error codes that cross services (RPC replies), so that both ends name them alike."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RpcErrorCode"]


class RpcErrorCode(StrEnum):
    """Codes of :class:`contracts.rpc.RpcError` the kit itself answers with; a service's own
    refusals (``email_taken``, ``storage_quota_exceeded``...) come from its domain errors."""

    INVALID_REQUEST = "invalid_request"
    # The answering service could not reach a part it needs (its database): retry later.
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"
