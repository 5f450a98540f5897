"""Accounts read over Solana JSON-RPC in batches, each read retried: what every venue's chain
reader (Drift's, Velocity's) stands on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey
from tenacity import AsyncRetrying, stop_after_attempt, wait_chain, wait_fixed, wait_none

log = logging.getLogger(__name__)

# Solana's getMultipleAccounts takes at most 100 addresses.
MAX_ACCOUNTS_PER_CALL = 100
Sleep = Callable[[float], Awaitable[None]]


class ChainReadError(RuntimeError):
    """The RPC could not be read, after every retry."""


def _chunks(items: Sequence[Pubkey]) -> list[Sequence[Pubkey]]:
    return [items[i:i + MAX_ACCOUNTS_PER_CALL] for i in range(0, len(items), MAX_ACCOUNTS_PER_CALL)]


class ChainAccounts:
    def __init__(self, connection: AsyncClient, retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
                 sleep: Sleep = asyncio.sleep) -> None:
        self.connection = connection
        self._delays = tuple(retry_delays)
        self._sleep = sleep

    async def retrying(self, what: str, read: Callable[[], Awaitable[Any]]) -> Any:
        """One read with tenacity: waits of `retry_delays` between attempts, then the error."""
        waits = wait_chain(*(wait_fixed(delay) for delay in self._delays)) if self._delays \
            else wait_none()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(len(self._delays) + 1), wait=waits, sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "RPC read failed, retrying", extra={
                    "read": what, "attempt": state.attempt_number,
                    "error": repr(state.outcome.exception()) if state.outcome else ""}),
        )
        try:
            return await retrying(read)
        except Exception as error:
            raise ChainReadError(f"{what}: {type(error).__name__}: {error}") from error

    async def read(self, addresses: Sequence[Pubkey]) -> tuple[int, list[Any]]:
        """(slot, account or None per address), every batch read with retries."""
        slot, found = 0, []
        for batch in _chunks(addresses):
            async def read(batch: Sequence[Pubkey] = batch) -> Any:
                return await self.connection.get_multiple_accounts(list(batch))

            response = await self.retrying("getMultipleAccounts", read)
            slot = max(slot, response.context.slot)
            found.extend(response.value)
        return slot, found
