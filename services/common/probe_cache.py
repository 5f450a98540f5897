"""One probe of other services shared by every caller, kept a short time: a flood of health
requests costs the services probed a bounded number of calls."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class ProbeCache(Generic[T]):
    """Concurrent callers wait for the same probe (single flight); its answer is kept
    `keep_seconds(answer)` unless `channel_states()` changes first, as it does when a probed
    service's connection drops or comes back."""

    def __init__(
        self, probe: Callable[[], Awaitable[T]], *,
        keep_seconds: Callable[[T], float],
        channel_states: Callable[[], Sequence[object]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._keep_seconds = keep_seconds
        self._channel_states = channel_states
        self._clock = clock
        self._answer: T | None = None
        self._expires = -math.inf
        self._states: tuple[object, ...] = ()
        self._refresh: asyncio.Task[T] | None = None

    async def get(self) -> T:
        if (self._answer is not None and self._clock() < self._expires
                and tuple(self._channel_states()) == self._states):
            return self._answer
        if self._refresh is None:
            self._refresh = asyncio.create_task(self._take())
        # Shielded: a caller that gives up does not cancel the probe the others wait for.
        return await asyncio.shield(self._refresh)

    async def _take(self) -> T:
        try:
            answer = await self._probe()
            self._answer = answer
            self._expires = self._clock() + self._keep_seconds(answer)
            self._states = tuple(self._channel_states())
            return answer
        finally:
            self._refresh = None
