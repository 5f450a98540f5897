"""Injectable clocks. Everything that waits for time (funding hours, cooldowns) takes one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self._now = moment


class ReplayClock:
    """Market time that runs `speed` times faster than the wall, from `start`, and holds at `end`.

    Anchored on a monotonic wall clock, so a change of system time never moves the market.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 1.0,
        end: datetime | None = None,
        *,
        paused: bool = False,
        monotonic: callable = time.monotonic,  # type: ignore[valid-type]
    ) -> None:
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, found {speed}")
        self._monotonic = monotonic
        self.start = start
        self.end = end
        self._speed = speed
        self._paused = paused
        self._anchor_market = start
        self._anchor_wall = monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def now(self) -> datetime:
        moment = self._anchor_market
        if not self._paused:
            elapsed = (self._monotonic() - self._anchor_wall) * self._speed
            moment += timedelta(seconds=elapsed)
        if self.end is not None and moment > self.end:
            return self.end
        return moment

    def _reanchor(self, moment: datetime) -> None:
        if self.end is not None and moment > self.end:
            moment = self.end
        self._anchor_market = moment
        self._anchor_wall = self._monotonic()

    def set(
        self,
        *,
        now: datetime | None = None,
        speed: float | None = None,
        paused: bool | None = None,
    ) -> None:
        self._reanchor(now if now is not None else self.now())
        if speed is not None:
            if speed <= 0:
                raise ValueError(f"replay speed must be positive, found {speed}")
            self._speed = speed
        if paused is not None:
            self._paused = paused

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"the market clock only moves forward, asked for {seconds} s")
        self._reanchor(self.now() + timedelta(seconds=seconds))
