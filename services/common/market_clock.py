"""The market clock as seen from services other than the feed: the feed's clock, extrapolated.

The feed owns market time (replay time in paper mode). Other services ask it and extrapolate
between asks with the reported speed, so funding hours and cooldowns agree across processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.timeutil import from_timestamp


class FeedClock:
    def __init__(self, stub: feed_pb2_grpc.FeedServiceStub, max_age_seconds: float = 0.5) -> None:
        self._stub = stub
        self._max_age = max_age_seconds
        self._anchor: datetime | None = None
        self._anchor_wall = 0.0
        self._speed = 1.0
        self._paused = False

    async def refresh(self) -> datetime:
        await self.read()
        assert self._anchor is not None
        return self._anchor

    async def read(self, with_prices: Iterable[str] = ()) -> feed_pb2.GetClockResponse:
        """The feed's answer, with the prices of `with_prices` at the clock's moment."""
        response = await self._stub.GetClock(
            feed_pb2.GetClockRequest(with_prices=with_prices), timeout=5)
        clock = response.clock
        self._anchor = from_timestamp(clock.now)
        self._anchor_wall = time.monotonic()
        self._speed = clock.speed or 1.0
        self._paused = clock.paused
        return response

    async def now(self) -> datetime:
        """Market time; asks the feed again when the last answer is older than max_age."""
        if self._anchor is None or time.monotonic() - self._anchor_wall > self._max_age:
            return await self.refresh()
        return self.cached_now()

    def cached_now(self) -> datetime:
        if self._anchor is None:
            raise RuntimeError("FeedClock.cached_now called before the first refresh")
        if self._paused:
            return self._anchor
        elapsed = (time.monotonic() - self._anchor_wall) * self._speed
        return self._anchor + timedelta(seconds=elapsed)
