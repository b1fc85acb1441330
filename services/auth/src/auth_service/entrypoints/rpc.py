"""auth's answers to the gateway's requests: parse, call the use case, reply."""

from __future__ import annotations

from auth_service.service_layer.accounts import Accounts
from auth_service.service_layer.api_keys import ApiKeys
from auth_service.service_layer.quotas import Quotas
from contracts.rpc import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOwner,
    ChangePassword,
    CreateApiKey,
    DeleteAccount,
    Done,
    EndAllSessions,
    EndSession,
    GetQuota,
    GetUser,
    ListApiKeys,
    LoginUser,
    QuotaReport,
    RefreshSession,
    RegisterUser,
    ReserveQuota,
    RevokeApiKey,
    TokenPair,
    UserProfile,
    VerifyApiKey,
)
from servicekit.rpc import serve_rpc
from servicekit.runtime import ServiceRuntime

__all__ = ["register_rpc"]


def register_rpc(
    runtime: ServiceRuntime, accounts: Accounts, quotas: Quotas, api_keys: ApiKeys
) -> None:
    async def register_user(request: RegisterUser) -> UserProfile:
        return await accounts.register(request.email, request.password, request.correlation_id)

    async def login_user(request: LoginUser) -> TokenPair:
        return await accounts.login(request.email, request.password)

    async def get_user(request: GetUser) -> UserProfile:
        return await accounts.get(request.user_id)

    async def refresh_session(request: RefreshSession) -> TokenPair:
        return await accounts.refresh(request.refresh_token, request.correlation_id)

    async def end_session(request: EndSession) -> Done:
        await accounts.end_session(request.user_id, request.refresh_token, request.correlation_id)
        return Done()

    async def end_all_sessions(request: EndAllSessions) -> Done:
        await accounts.end_all_sessions(request.user_id, request.correlation_id)
        return Done()

    async def change_password(request: ChangePassword) -> Done:
        await accounts.change_password(
            request.user_id,
            request.current_password,
            request.new_password,
            request.correlation_id,
        )
        return Done()

    async def delete_account(request: DeleteAccount) -> Done:
        await accounts.delete(request.user_id, request.correlation_id)
        return Done()

    async def get_quota(request: GetQuota) -> QuotaReport:
        return await quotas.report(request.user_id)

    async def reserve_quota(request: ReserveQuota) -> QuotaReport:
        return await quotas.reserve(request)

    async def create_api_key(request: CreateApiKey) -> ApiKeyCreated:
        return await api_keys.create(request.user_id, request.label, request.scope)

    async def list_api_keys(request: ListApiKeys) -> ApiKeyList:
        return ApiKeyList(items=await api_keys.list_keys(request.user_id))

    async def revoke_api_key(request: RevokeApiKey) -> Done:
        await api_keys.revoke(request.user_id, request.key_id)
        return Done()

    async def verify_api_key(request: VerifyApiKey) -> ApiKeyOwner:
        return await api_keys.verify(request.key)

    broker, topology = runtime.broker, runtime.topology
    serve_rpc(broker, topology, RegisterUser, UserProfile, register_user)
    serve_rpc(broker, topology, LoginUser, TokenPair, login_user)
    serve_rpc(broker, topology, GetUser, UserProfile, get_user)
    serve_rpc(broker, topology, RefreshSession, TokenPair, refresh_session)
    serve_rpc(broker, topology, EndSession, Done, end_session)
    serve_rpc(broker, topology, EndAllSessions, Done, end_all_sessions)
    serve_rpc(broker, topology, ChangePassword, Done, change_password)
    serve_rpc(broker, topology, DeleteAccount, Done, delete_account)
    serve_rpc(broker, topology, GetQuota, QuotaReport, get_quota)
    serve_rpc(broker, topology, ReserveQuota, QuotaReport, reserve_quota)
    serve_rpc(broker, topology, CreateApiKey, ApiKeyCreated, create_api_key)
    serve_rpc(broker, topology, ListApiKeys, ApiKeyList, list_api_keys)
    serve_rpc(broker, topology, RevokeApiKey, Done, revoke_api_key)
    serve_rpc(broker, topology, VerifyApiKey, ApiKeyOwner, verify_api_key)
