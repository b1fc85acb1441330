"""Rate limits (moving windows, from the ``limits`` library) with 429 and Retry-After.

Counted per gateway process: with N replicas behind a balancer a client gets at most N
times the limit, which still stops guessing and flooding; a shared store (Redis) would make
it exact and is one setting of ``limits`` away.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel

from gateway_service.api.errors import ApiError

__all__ = ["RateLimitSettings", "RateLimits"]


class RateLimitSettings(BaseModel):
    login_per_ip: str = "30/minute"
    login_per_email: str = "10/minute"  # password guessing against one account
    register_per_ip: str = "20/hour"
    refresh_per_ip: str = "60/minute"
    submit_per_user: str = "60/minute"
    # Every request made with an API key counts against that key (its submits against its
    # user's submit limit too, so that many keys do not make more room).
    per_api_key: str = "600/minute"


class RateLimits:
    def __init__(self, settings: RateLimitSettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rules: dict[str, RateLimitItem] = {
            name: parse(value) for name, value in settings.model_dump().items()
        }

    async def hit(self, rule: str, *key: str) -> None:
        item = self._rules[rule]
        if await self._limiter.hit(item, rule, *key):
            return
        stats = await self._limiter.get_window_stats(item, rule, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests ({item}); retry in {retry} s",
            details={"limit": str(item), "retry_after_seconds": retry},
            headers={"Retry-After": str(retry)},
        )
