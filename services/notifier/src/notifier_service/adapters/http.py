"""Sending a webhook over HTTP, only ever to an address the policy allows.

Names are resolved by :class:`CheckedResolver`, which hands aiohttp only addresses that
passed the policy: the connection goes to the very address that was checked, so a name that
resolves to a public address at registration and to a private one later (DNS rebinding) is
refused at delivery time. An address in the URL itself is checked before any connection.
Redirects are not followed (a 3xx is a failed attempt), and no proxy from the environment is
used. Bodies and secrets never reach a log line.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from notifier_service.domain.addresses import (
    AddressPolicy,
    IPAddress,
    UrlNotAllowed,
    parse_target,
)
from notifier_service.domain.webhooks import DeliveryOutcome

__all__ = ["CheckedResolver", "WebhookClient", "resolve_host"]

USER_AGENT = "alignment-webhooks/1"
RESOLVE_TIMEOUT_SECONDS = 2.0


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class CheckedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the policy allows."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        addresses = [ipaddress.ip_address(r["host"]) for r in found]
        self._policy.check(host, addresses)  # raises UrlNotAllowed
        return found

    async def close(self) -> None:
        await self._inner.close()


class WebhookClient:
    """One HTTP client per process: ``start()``, then ``send`` from any number of tasks."""

    def __init__(self, policy: AddressPolicy, timeout_seconds: float, connections: int) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(self._policy),
            use_dns_cache=False,
            limit=self._connections,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, trust_env=False
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, body: str, headers: dict[str, str]) -> DeliveryOutcome:
        """One attempt: the status code the receiver answered, or why there was none."""
        assert self._session is not None, "start() first"
        try:
            target = parse_target(url)
            if target.literal is not None:
                self._policy.check(target.host, [target.literal])
            request_headers: dict[str, Any] = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **headers,
            }
            async with self._session.post(
                url, data=body.encode(), headers=request_headers, allow_redirects=False
            ) as response:
                return DeliveryOutcome(response.status)
        except UrlNotAllowed as exc:
            return DeliveryOutcome(None, f"refused: {exc.message}")
        except TimeoutError:
            return DeliveryOutcome(None, f"no answer within {self._timeout.total} s")
        except aiohttp.ClientError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, UrlNotAllowed):
                return DeliveryOutcome(None, f"refused: {cause.message}")
            return DeliveryOutcome(None, f"{type(exc).__name__}: {exc}"[:500])
        except (OSError, ValueError) as exc:  # e.g. a host name that cannot be encoded
            return DeliveryOutcome(None, f"{type(exc).__name__}: {exc}"[:500])
