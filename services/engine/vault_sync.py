"""Vault sync with retry (property 36: waits of 1 s, 2 s, 4 s between attempts) and the
failure after the last one (property 37), which the engine answers by disabling trading."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, RetryError, stop_after_attempt
from tenacity.wait import wait_base

from services.common.metrics import VAULT_SYNC_FAILURES

log = logging.getLogger(__name__)
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class SyncFailed(Exception):
    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"vault sync failed after {attempts} attempts: {last_error}")
        self.attempts = attempts
        self.last_error = last_error


class WaitFromList(wait_base):
    """The n-th retry waits delays[n-1]."""

    def __init__(self, delays: Sequence[float]) -> None:
        self._delays = tuple(delays)

    def __call__(self, retry_state: RetryCallState) -> float:
        index = min(retry_state.attempt_number, len(self._delays)) - 1
        return self._delays[index]


class VaultSynchronizer:
    def __init__(
        self,
        delays: Sequence[float],
        sleep: Sleep,
        on_retrying: Callable[[bool], None] = lambda _recovering: None,
    ) -> None:
        self._delays = tuple(delays)
        self._sleep = sleep
        self._on_retrying = on_retrying

    @property
    def max_attempts(self) -> int:
        return len(self._delays) + 1

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Runs `attempt` until it succeeds or every delay is spent; raises SyncFailed."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=WaitFromList(self._delays),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=False,
        )
        try:
            result = await retrying(attempt)
        except RetryError as failure:
            VAULT_SYNC_FAILURES.inc()
            error = failure.last_attempt.exception() or failure
            log.error("vault sync failed after every retry",
                      extra={"attempts": self.max_attempts, "error": str(error)},
                      exc_info=error)
            raise SyncFailed(self.max_attempts, error) from error
        finally:
            self._on_retrying(False)
        return result

    def _before_sleep(self, state: RetryCallState) -> None:
        VAULT_SYNC_FAILURES.inc()
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        log.warning("vault sync attempt failed, retrying",
                    extra={"attempt": state.attempt_number, "wait_seconds": wait,
                           "error": str(error)})
        self._on_retrying(True)
