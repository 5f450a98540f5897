"""Resuming in the background after a restart: one attempt after another, with short growing
waits, while the services the engine needs come back; never blocking the engine's own server.

An attempt raises NotYet while something it needs is unreachable (retried); it returns when the
resume succeeded or ended for a real reason (the attempt records which). A StopEngine or a
SIGTERM stops the retries between attempts, never in the middle of one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
# Service start-up takes a few seconds and the system must trade again within 15 s of a crash:
# short waits, growing to 2 s at most.
FIRST_WAIT_SEC = 0.25
LONGEST_WAIT_SEC = 2.0


class NotYet(Exception):
    """A service the resume needs is not reachable yet: try again."""


class _Stopped(Exception):
    pass


class AutoResume:
    def __init__(self, attempt: Callable[[], Awaitable[None]], sleep: Sleep) -> None:
        self._attempt = attempt
        self._sleep = sleep
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.waiting_for = ""   # the last reason an attempt gave, for the status
        self.attempts = 0

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name="engine-auto-resume")

    async def cancel(self) -> None:
        """Stops the retries and waits for an attempt under way to end."""
        self._stop.set()
        if self._task is not None and self._task is not asyncio.current_task():
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(NotYet),
            wait=wait_exponential(multiplier=FIRST_WAIT_SEC, min=FIRST_WAIT_SEC,
                                  max=LONGEST_WAIT_SEC),
            sleep=self._wait,
            before_sleep=self._note,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self._stop.is_set():
                        raise _Stopped
                    self.attempts += 1
                    await self._attempt()
        except _Stopped:
            log.info("auto-resume stopped before it succeeded")
        except Exception:  # the attempt records real refusals itself; this is a bug
            log.exception("auto-resume failed")

    async def _wait(self, seconds: float) -> None:
        """The backoff's sleep, cut short by cancel()."""
        if self._stop.is_set():
            raise _Stopped
        stopped = asyncio.ensure_future(self._stop.wait())
        slept = asyncio.ensure_future(self._sleep(seconds))
        await asyncio.wait({stopped, slept}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopped, slept):
            task.cancel()
        if self._stop.is_set():
            raise _Stopped

    def _note(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.waiting_for = str(error)
        log.warning("resume not possible yet; retrying", extra={
            "attempt": state.attempt_number, "reason": self.waiting_for,
            "wait_seconds": state.next_action.sleep if state.next_action else 0})
