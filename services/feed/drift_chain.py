"""Reads Drift's perp market and oracle accounts over Solana JSON-RPC, decoded by driftpy.

The venue is configuration: the program id and the IDL come from the venue profile (an
unsupported profile is refused); the market indices to ask for come from driftpy's mainnet perp
market list. Accounts are fetched in batches (getMultipleAccounts, 100 addresses per call: one
call for every market, one for their oracles), so a refresh costs two requests. Every read
retries with the given waits (tenacity). The IDL's strict coder decodes the markets: an account
of another layout fails the whole read (AccountLayoutRefused), never misread or quietly skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from anchorpy import Idl
from driftpy.addresses import get_perp_market_public_key
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.types import is_variant
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

from services.common.account_layouts import AccountLayoutError, StrictAccountsCoder
from services.common.oracle_reads import OracleReadings, read_oracle_prices
from services.common.venue_profile import VenueProfile
from services.feed.chain_accounts import ChainAccounts, ChainReadError

log = logging.getLogger(__name__)

PERP_MARKET_ACCOUNT = "PerpMarket"
RPC_TIMEOUT_SECONDS = 10.0
Sleep = Callable[[float], Awaitable[None]]


class AccountLayoutRefused(ChainReadError):
    """The RPC serves a market account that is not in the profile IDL's layout."""


@dataclass(frozen=True)
class ChainMarkets:
    slot: int                       # the RPC's slot when the markets were read
    markets: list[Any]              # decoded PerpMarket accounts (driftpy's types), by index
    missing: list[int]              # indices of driftpy's list that the RPC does not have
    oracles: OracleReadings


def mainnet_market_indexes() -> list[int]:
    return sorted(config.market_index for config in mainnet_perp_market_configs)


def oracle_of(market: Any) -> tuple[Pubkey, Any] | None:
    """The market's oracle account and source; None when it has no account (quote asset)."""
    amm = market.amm
    if is_variant(amm.oracle_source, "QuoteAsset") or amm.oracle == Pubkey.default():
        return None
    return amm.oracle, amm.oracle_source


class DriftChainReader:
    def __init__(
        self,
        connection: AsyncClient,
        profile: VenueProfile,
        *,
        market_indexes: Sequence[int] | None = None,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        profile.require_family("drift", "Drift's chain reader")
        self._connection = connection
        self._chain = ChainAccounts(connection, retry_delays, sleep)
        self._program_id = Pubkey.from_string(profile.program_id)
        self._coder = StrictAccountsCoder(Idl.from_json(profile.idl_json()))
        self._indexes = list(market_indexes if market_indexes is not None
                             else mainnet_market_indexes())

    @classmethod
    def connect(cls, rpc_url: str, profile: VenueProfile, **options: Any) -> DriftChainReader:
        return cls(AsyncClient(rpc_url, timeout=RPC_TIMEOUT_SECONDS), profile, **options)

    async def close(self) -> None:
        await self._connection.close()

    async def _accounts(self, addresses: Sequence[Pubkey]) -> tuple[int, list[Any]]:
        return await self._chain.read(addresses)

    def _decode_market(self, index: int, address: Pubkey, account: Any) -> Any | None:
        if account is None:
            return None
        if account.owner != self._program_id:
            log.warning("perp market account not owned by the program; skipped",
                        extra={"market_index": index, "owner": str(account.owner)})
            return None
        try:
            market = self._coder.decode(bytes(account.data))
        except AccountLayoutError as error:
            reason = f"perp market {index} ({address}): {error}"
            log.error("perp market account refused: not the profile's IDL layout",
                      extra={"market_index": index, "address": str(address), "reason": reason})
            raise AccountLayoutRefused(reason) from None
        except Exception as error:
            log.warning("perp market account does not decode; skipped",
                        extra={"market_index": index, "error": repr(error)})
            return None
        if int(market.market_index) != index:
            log.warning("perp market account holds another index; skipped",
                        extra={"market_index": index, "found": int(market.market_index)})
            return None
        return market

    async def read_markets(self) -> ChainMarkets:
        """Every market of the list that the RPC has, and its oracle's price."""
        addresses = [get_perp_market_public_key(self._program_id, i) for i in self._indexes]
        slot, accounts = await self._accounts(addresses)
        markets, missing = [], []
        for index, address, account in zip(self._indexes, addresses, accounts, strict=True):
            market = self._decode_market(index, address, account)
            if market is None:
                missing.append(index)
            else:
                markets.append(market)
        oracles = await self.read_oracles(markets)
        return ChainMarkets(max(slot, oracles.slot), markets, missing, oracles)

    async def read_oracles(self, markets: Sequence[Any]) -> OracleReadings:
        """The oracle prices of these markets, decoded by driftpy (one batch call)."""
        sources: dict[Pubkey, Any] = {}
        for market in markets:
            oracle = oracle_of(market)
            if oracle is not None:
                sources.setdefault(*oracle)
        return await read_oracle_prices(self._chain, sources)
