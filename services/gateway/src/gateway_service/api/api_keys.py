"""``/api/v1/api-keys``: keys for scripts, managed with a login (a key cannot make or revoke
keys). Auth keeps them; the key itself is shown once, when it is made."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from contracts.api_keys import API_KEY_LABEL_MAX_LENGTH, ApiKeyScope
from contracts.rpc import (
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    CreateApiKey,
    Done,
    ListApiKeys,
    RevokeApiKey,
)
from gateway_service.api.deps import CorrelationId, Rpc, SessionUser
from gateway_service.service_layer.api_keys import ApiKeyVerifier

__all__ = ["router"]

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


class NewKeyBody(BaseModel):
    name: str = Field(min_length=1, max_length=API_KEY_LABEL_MAX_LENGTH, pattern=r"\S")
    scope: ApiKeyScope = Field(description="read: GET only; write: also submit and delete")


class KeyOut(BaseModel):
    id: UUID
    name: str
    scope: ApiKeyScope
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None = Field(description="to within a minute")


class NewKeyOut(KeyOut):
    key: str = Field(description="the key: shown this once, keep it safe")


class KeyList(BaseModel):
    items: list[KeyOut]


def key_out(key: ApiKeyInfo) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.label,
        scope=key.scope,
        prefix=key.prefix,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NewKeyOut)
async def create_key(
    body: NewKeyBody, user: SessionUser, rpc: Rpc, correlation_id: CorrelationId
) -> NewKeyOut:
    """A new key; use it as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    order = CreateApiKey(
        user_id=user.user_id, label=body.name, scope=body.scope, correlation_id=correlation_id
    )
    created = await rpc.call(order, ApiKeyCreated)
    return NewKeyOut(**key_out(created).model_dump(), key=created.key)


@router.get("", response_model=KeyList)
async def list_keys(user: SessionUser, rpc: Rpc, correlation_id: CorrelationId) -> KeyList:
    """Your keys (never the keys themselves), newest first."""
    found = await rpc.call(
        ListApiKeys(user_id=user.user_id, correlation_id=correlation_id), ApiKeyList
    )
    return KeyList(items=[key_out(key) for key in found.items])


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(
    request: Request, key_id: UUID, user: SessionUser, rpc: Rpc, correlation_id: CorrelationId
) -> Response:
    """Revokes the key: refused at once here, by every gateway within seconds."""
    order = RevokeApiKey(user_id=user.user_id, key_id=key_id, correlation_id=correlation_id)
    await rpc.call(order, Done)
    verifier: ApiKeyVerifier = request.app.state.api_keys
    verifier.forget_key(key_id)
    return Response(status_code=204)
