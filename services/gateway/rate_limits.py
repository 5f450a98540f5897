"""design.md's rate limits on a moving window (the `limits` library, in memory).

Who is counted: a caller holding the API token is the one user of the one account, counted as
SIGNED_IN wherever it connects from (position operations, and REST requests that carry the
token); anyone else per client address, which behind TRUSTED_PROXIES is the forwarded one; the
WebSocket's frames per connection."""

from __future__ import annotations

import math
import time

import limits
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from services.gateway.settings import GatewaySettings

SIGNED_IN = "token"


class RateLimits:
    def __init__(self, settings: GatewaySettings) -> None:
        # The synchronous storage: in memory, a hit never waits on anything. The asyncio one
        # sent every key's expiry through a worker thread after each hit (9 % of the
        # gateway's time under load).
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.markets = limits.parse(settings.rate_limit_markets)
        self.api = limits.parse(settings.rate_limit_api)
        self.ws_commands = limits.parse(settings.rate_limit_ws_commands)
        self.position_ops = limits.parse(settings.rate_limit_position_ops)
        self.health = limits.parse(settings.rate_limit_health)

    async def retry_after(self, item: limits.RateLimitItem, *identifiers: str) -> float | None:
        """Counts one hit; answers None when allowed, else the seconds until the next one is."""
        if self._limiter.hit(item, *identifiers):
            return None
        stats = self._limiter.get_window_stats(item, *identifiers)
        return max(0.0, stats.reset_time - time.time())


def client_key(host: str | None) -> str:
    return f"ip:{host or 'unknown'}"


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def describe(item: limits.RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    per = f"{item.multiples} {unit}s" if item.multiples > 1 else unit
    return f"{item.amount} per {per}"
