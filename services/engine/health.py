"""Health alerts (property 6): WARNING below 50 %, CRITICAL below 20 %.

Emitted when the level changes and re-emitted while it persists, at most once every 60 s of
wall time, so an operator hears about a lasting problem without a flood."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

WARNING = "WARNING"
CRITICAL = "CRITICAL"
WARNING_BELOW = Decimal(50)
CRITICAL_BELOW = Decimal(20)
REPEAT_EVERY_SEC = 60.0


def alert_level(health: Decimal) -> str | None:
    if health < CRITICAL_BELOW:
        return CRITICAL
    if health < WARNING_BELOW:
        return WARNING
    return None


@dataclass(frozen=True)
class Alert:
    level: str
    health: Decimal
    message: str


class HealthAlerter:
    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        repeat_every_sec: float = REPEAT_EVERY_SEC,
    ) -> None:
        self._monotonic = monotonic
        self._repeat = repeat_every_sec
        self._level: str | None = None
        self._last_emitted = 0.0

    def observe(self, health: Decimal) -> Alert | None:
        """The alert to emit for this reading, if any."""
        level = alert_level(health)
        now = self._monotonic()
        changed = level != self._level
        self._level = level
        if level is None:
            return None
        if not changed and now - self._last_emitted < self._repeat:
            return None
        self._last_emitted = now
        threshold = CRITICAL_BELOW if level == CRITICAL else WARNING_BELOW
        return Alert(
            level=level,
            health=health,
            message=f"account health {health:.2f} % is below {threshold} %",
        )
