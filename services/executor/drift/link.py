"""The RPC link: reads retried with backoff, round trips measured, and reconnection.

Every read goes through `read()`: transport errors are retried after 1 s, 2 s and 4 s
(tenacity); when the last one fails too the link counts as dropped (properties 43-45): it
probes the RPC every 10 s, and once a probe answers, re-syncs the account (the driver's
callback) before it says connected again. Trading is refused the whole time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from solana.exceptions import SolanaRpcException
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
READ_RETRY_DELAYS = (1.0, 2.0, 4.0)
RECONNECT_EVERY_SECONDS = 10.0
Sleep = Callable[[float], Awaitable[None]]


class LinkDown(Exception):
    """The RPC did not answer after every retry; the message says what was asked."""


def is_transport_error(error: BaseException) -> bool:
    return isinstance(error, httpx.TransportError | SolanaRpcException | OSError | TimeoutError)


class RpcLink:
    def __init__(
        self,
        probe: Callable[[], Awaitable[object]],
        resync: Callable[[], Awaitable[None]],
        *,
        sleep: Sleep = asyncio.sleep,
        stopwatch: Callable[[], float] = time.perf_counter,
        retry_delays: tuple[float, ...] = READ_RETRY_DELAYS,
        reconnect_every: float = RECONNECT_EVERY_SECONDS,
    ) -> None:
        self._probe = probe
        self._resync = resync
        self._sleep = sleep
        self._stopwatch = stopwatch  # real time: latency is measured, never simulated
        self._retry_delays = retry_delays
        self._reconnect_every = reconnect_every
        self.connected = False
        self.reason = "not connected yet"
        self.latency_ms = 0.0
        self.reconnect_attempts = 0
        self._reconnecting: asyncio.Task[None] | None = None

    @property
    def reconnecting(self) -> bool:
        return self._reconnecting is not None and not self._reconnecting.done()

    async def timed(self, call: Callable[[], Awaitable[T]]) -> T:
        """One call, its round trip kept as the link's latency."""
        started = self._stopwatch()
        result = await call()
        self.latency_ms = (self._stopwatch() - started) * 1000
        return result

    async def read(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """A read with the 1 s / 2 s / 4 s retries; a read that never answers drops the link."""
        if not self.connected:
            raise LinkDown(f"the RPC link is down ({self.reason}); reconnecting every "
                           f"{self._reconnect_every:.0f} s")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(len(self._retry_delays) + 1),
            wait=wait_chain(*(wait_fixed(delay) for delay in self._retry_delays)),
            retry=retry_if_exception(is_transport_error),
            sleep=self._sleep,
            before_sleep=lambda state: log.warning("RPC read failed, retrying", extra={
                "what": what, "attempt": state.attempt_number,
                "error": type(state.outcome.exception()).__name__ if state.outcome else "",
            }),
        )
        try:
            return await retrying(self.timed, call)
        except RetryError as failure:
            error = failure.last_attempt.exception()
            self.drop(f"{what} failed after {len(self._retry_delays) + 1} attempts: "
                      f"{type(error).__name__}")
            raise LinkDown(self.reason) from error

    def drop(self, reason: str) -> None:
        """Marks the link down and starts reconnecting (once)."""
        if self.connected:
            log.error("RPC link dropped", extra={"reason": reason})
        self.connected = False
        self.reason = reason
        if not self.reconnecting:
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def up(self) -> None:
        self.connected = True
        self.reason = ""

    async def _reconnect(self) -> None:
        while True:
            await self._sleep(self._reconnect_every)
            self.reconnect_attempts += 1
            try:
                await self.timed(self._probe)
                await self._resync()
            except Exception as error:
                self.reason = (f"reconnecting: attempt {self.reconnect_attempts} failed "
                               f"({type(error).__name__})")
                log.warning("RPC reconnect failed", extra={
                    "attempt": self.reconnect_attempts, "error": type(error).__name__})
                continue
            log.info("RPC link re-established and account re-synced",
                     extra={"attempt": self.reconnect_attempts})
            self.up()
            return

    async def close(self) -> None:
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnecting
