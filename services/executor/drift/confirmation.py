"""Waiting for a sent transaction (properties 41, 42).

Up to 30 s for the confirmation (statuses asked every `fast_poll` seconds), then the status is
queried every 5 s until 60 s more have passed; a signature with no status by then is UNKNOWN.
Clock and sleep are injected, so tests run the 90 s in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from solana.rpc.async_api import AsyncClient
from solders.signature import Signature
from solders.transaction_status import TransactionConfirmationStatus

from services.executor.drift.link import is_transport_error

CONFIRM_WAIT_SECONDS = 30.0
STATUS_POLL_SECONDS = 5.0
STATUS_POLL_TOTAL_SECONDS = 60.0
FAST_POLL_SECONDS = 0.5
_LANDED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)


@dataclass(frozen=True)
class ConfirmTiming:
    wait: float = CONFIRM_WAIT_SECONDS
    fast_poll: float = FAST_POLL_SECONDS
    poll_every: float = STATUS_POLL_SECONDS
    poll_total: float = STATUS_POLL_TOTAL_SECONDS


@dataclass(frozen=True)
class Landing:
    """confirmed: landed without error; failed: landed with `error`; unknown: no status."""

    outcome: str
    error: Any = None
    slot: int | None = None
    checks: int = 0


class Confirmer:
    def __init__(
        self,
        connection: AsyncClient,
        timing: ConfirmTiming = ConfirmTiming(),
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connection = connection
        self.timing = timing
        self._sleep = sleep
        self._monotonic = monotonic

    async def status(self, signature: str) -> Landing | None:
        """One look: None while the cluster knows nothing of the signature."""
        answer = await self._connection.get_signature_statuses(
            [Signature.from_string(signature)], search_transaction_history=True
        )
        status = answer.value[0]
        if status is None:
            return None
        if status.err is not None:
            return Landing("failed", str(status.err), status.slot)
        if status.confirmation_status not in _LANDED:
            return None  # "processed" can still be rolled back
        return Landing("confirmed", None, status.slot)

    async def wait(self, signature: str) -> Landing:
        timing = self.timing
        started = self._monotonic()
        checks = 0
        while True:
            elapsed = self._monotonic() - started
            if elapsed > timing.wait + timing.poll_total:
                return Landing("unknown", checks=checks)
            checks += 1
            try:
                landed = await self.status(signature)
            except Exception as error:
                if not is_transport_error(error):
                    raise
                landed = None  # the RPC did not answer: keep asking until the deadline
            if landed is not None:
                return Landing(landed.outcome, landed.error, landed.slot, checks)
            interval = timing.fast_poll if elapsed < timing.wait else timing.poll_every
            await self._sleep(interval)
