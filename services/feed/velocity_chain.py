"""Reads Velocity's perp markets over Solana JSON-RPC: at the addresses Velocity's IDL derives
(its `perp_market` seeds), owned by Velocity's program, decoded with Velocity's IDL into the
feed's `PerpMarketSnapshot`s.

The feed's Velocity mode (velocity_live.py) reads through it: the State (paused operations and
how many markets there are), then the markets and their oracles. As with Drift's reader, an
account in another layout fails the whole read (AccountLayoutRefused), never misread or skipped
quietly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftpy.types import OracleSource
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

from services.common.account_layouts import AccountLayoutError
from services.common.anchor_instructions import AnchorInstructions
from services.common.exchange_status import halt_reason
from services.common.oracle_reads import OracleReadings, read_oracle_prices
from services.feed.chain_accounts import ChainAccounts, ChainReadError, Sleep
from services.feed.drift_accounts import PerpMarketSnapshot
from services.feed.drift_chain import RPC_TIMEOUT_SECONDS, AccountLayoutRefused
from services.feed.velocity_accounts import (
    PERP_MARKET,
    velocity_decoder,
    velocity_perp_market_snapshot,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VelocityMarket:
    values: dict[str, Any]          # the decoded account, as Velocity's IDL names its fields
    snapshot: PerpMarketSnapshot

    @property
    def oracle(self) -> tuple[Pubkey, Any] | None:
        """The oracle account and its source as driftpy decodes it; None without one, or
        for a source driftpy does not know (Velocity's `Deprecated...` variants)."""
        address = Pubkey.from_string(self.values["oracle"])
        source = getattr(OracleSource, self.values["oracle_source"], None)
        if address == Pubkey.default() or source is None or (
                self.values["oracle_source"] == "QuoteAsset"):
            return None
        return address, source()


@dataclass(frozen=True)
class VelocityMarkets:
    slot: int                       # the RPC's slot when the markets were read
    markets: list[VelocityMarket]   # by index
    missing: list[int]              # indices the RPC has no Velocity account for
    oracles: OracleReadings


@dataclass(frozen=True)
class VelocityState:
    slot: int
    exchange_status: int   # ExchangeStatus bits, as Drift's (velocity-v1 state/state.rs)
    halt_reason: str       # empty while every operation runs
    signer: Pubkey         # the program's vault authority, which a withdrawal names
    number_of_markets: int = 0   # perp markets the program has made: indices 0 .. n-1


class VelocityChainReader:
    def __init__(self, connection: AsyncClient, *, market_indexes: Sequence[int],
                 retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
                 sleep: Sleep = asyncio.sleep) -> None:
        self._connection = connection
        self._chain = ChainAccounts(connection, retry_delays, sleep)
        self._instructions = AnchorInstructions(velocity_decoder().idl)
        self.program_id = self._instructions.program_id
        self._indexes = list(market_indexes)
        self.state_address = self._instructions.address("state")

    @classmethod
    def connect(cls, rpc_url: str, **options: Any) -> VelocityChainReader:
        return cls(AsyncClient(rpc_url, timeout=RPC_TIMEOUT_SECONDS), **options)

    async def close(self) -> None:
        await self._connection.close()

    async def read_state(self) -> VelocityState:
        """The program's State: a paused program (or paused operations) is named, so nothing
        trades on it. No State at Velocity's address, or one in another layout, is an error."""
        address = self.state_address
        slot, (account,) = await self._chain.read([address])
        if account is None or account.owner != self.program_id:
            raise ChainReadError(f"no Velocity State at {address}: is the RPC on Velocity's "
                                 "cluster?")
        try:
            state = velocity_decoder().decode_as("State", bytes(account.data))
        except AccountLayoutError as error:
            raise AccountLayoutRefused(f"the State at {address}: {error}") from None
        status = state["exchange_status"]
        return VelocityState(slot, status, halt_reason(status), Pubkey.from_string(state["signer"]),
                             state["number_of_markets"])

    def market_address(self, index: int) -> Pubkey:
        return self._instructions.address("perp_market", market_index=index)

    async def read_markets(self, market_indexes: Sequence[int] | None = None) -> VelocityMarkets:
        """The markets at these indices (by default the reader's), and their oracles' prices."""
        indexes = list(self._indexes if market_indexes is None else market_indexes)
        addresses = [self.market_address(index) for index in indexes]
        slot, accounts = await self._chain.read(addresses)
        markets, missing = [], []
        for index, address, account in zip(indexes, addresses, accounts, strict=True):
            market = self._decode(index, address, account)
            if market is None:
                missing.append(index)
            else:
                markets.append(market)
        oracles = await self.read_oracles(markets)
        return VelocityMarkets(max(slot, oracles.slot), markets, missing, oracles)

    async def read_oracles(self, markets: Sequence[VelocityMarket]) -> OracleReadings:
        """The oracle prices of these markets, decoded by driftpy (one batch call)."""
        sources = dict(oracle for oracle in (m.oracle for m in markets) if oracle is not None)
        return await read_oracle_prices(self._chain, sources)

    def _decode(self, index: int, address: Pubkey, account: Any) -> VelocityMarket | None:
        if account is None:
            return None
        if account.owner != self.program_id:
            log.warning("perp market account not owned by Velocity's program; skipped",
                        extra={"market_index": index, "owner": str(account.owner)})
            return None
        try:
            values = velocity_decoder().decode_as(PERP_MARKET, bytes(account.data))
            market = velocity_perp_market_snapshot(values, f"velocity {address}")
        except AccountLayoutError as error:
            reason = f"perp market {index} ({address}): {error}"
            log.error("perp market account refused: not Velocity's layout",
                      extra={"market_index": index, "address": str(address), "reason": reason})
            raise AccountLayoutRefused(reason) from None
        if market.market_index != index:
            log.warning("perp market account holds another index; skipped",
                        extra={"market_index": index, "found": market.market_index})
            return None
        return VelocityMarket(values, market)
