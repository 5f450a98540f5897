"""Oracle accounts read over Solana JSON-RPC and decoded by driftpy (Pyth and the other oracle
programs are the same whichever Drift-family venue points at them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from driftpy.accounts.oracle import decode_oracle
from driftpy.types import OraclePriceData
from solders.pubkey import Pubkey


@dataclass(frozen=True)
class OracleReadings:
    """Decoded oracle prices at an RPC slot; oracles that could not be read, with the reason."""

    slot: int
    prices: dict[Pubkey, OraclePriceData]
    unreadable: dict[Pubkey, str] = field(default_factory=dict)


class AccountReads(Protocol):
    """Batched getMultipleAccounts: the feed's ChainAccounts (retried), the executor's view
    (whose RPC link retries)."""

    async def read(self, addresses: Sequence[Pubkey]) -> tuple[int, list[Any]]: ...


async def read_oracle_prices(chain: AccountReads, sources: dict[Pubkey, Any]) -> OracleReadings:
    """Each oracle account, decoded as its source (driftpy's OracleSource) says, in one batch."""
    addresses = list(sources)
    slot, accounts = await chain.read(addresses) if addresses else (0, [])
    prices: dict[Pubkey, OraclePriceData] = {}
    unreadable: dict[Pubkey, str] = {}
    for address, account in zip(addresses, accounts, strict=True):
        if account is None:
            unreadable[address] = "the RPC has no such account"
            continue
        try:
            prices[address] = decode_oracle(bytes(account.data), sources[address])
        except Exception as error:
            unreadable[address] = f"driftpy cannot decode it: {type(error).__name__}: {error}"
    return OracleReadings(slot, prices, unreadable)
