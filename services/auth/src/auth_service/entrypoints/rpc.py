"""auth's answers to the gateway's requests: parse, call the use case, reply."""

from __future__ import annotations

from auth_service.service_layer.accounts import Accounts
from contracts.rpc import GetUser, LoginUser, RegisterUser, TokenPair, UserProfile
from servicekit.rpc import serve_rpc
from servicekit.runtime import ServiceRuntime

__all__ = ["register_rpc"]


def register_rpc(runtime: ServiceRuntime, accounts: Accounts) -> None:
    async def register_user(request: RegisterUser) -> UserProfile:
        return await accounts.register(request.email, request.password, request.correlation_id)

    async def login_user(request: LoginUser) -> TokenPair:
        return await accounts.login(request.email, request.password)

    async def get_user(request: GetUser) -> UserProfile:
        return await accounts.get(request.user_id)

    serve_rpc(runtime.broker, runtime.topology, RegisterUser, UserProfile, register_user)
    serve_rpc(runtime.broker, runtime.topology, LoginUser, TokenPair, login_user)
    serve_rpc(runtime.broker, runtime.topology, GetUser, UserProfile, get_user)
