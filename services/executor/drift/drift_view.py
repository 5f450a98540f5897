"""driftpy's DriftClient on the profile's program, and the reads the driver refreshes.

The subscription is "cached" (plain getAccountInfo reads: works on any RPC, and offline against
the stand-in). Its first subscribe finds every market (symbols -> indexes); afterwards
`refresh()` re-reads only what a decision needs (State, the user, its markets and their oracles)
concurrently, and writes them into driftpy's cache so DriftUser's math sees them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from anchorpy import Idl, Program
from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.get_accounts import (
    get_perp_market_account_and_slot,
    get_spot_market_account_and_slot,
    get_state_account_and_slot,
)
from driftpy.accounts.oracle import get_oracle_price_data_and_slot
from driftpy.drift_client import DriftClient
from driftpy.drift_user import DriftUser
from driftpy.oracles.oracle_id import get_oracle_id
from driftpy.types import (
    OraclePriceData,
    PerpMarketAccount,
    SpotMarketAccount,
    StateAccount,
    TxParams,
    UserAccount,
)
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from services.common.account_layouts import StrictAccountsCoder
from services.common.errors import DomainError, ErrorCode
from services.common.venue_profile import VenueProfile

COMPUTE_UNITS = 600_000


def market_name(raw: Iterable[int]) -> str:
    return bytes(raw).decode(errors="replace").strip().strip("\x00")


def build_drift_client(connection: AsyncClient, keypair: Keypair, profile: VenueProfile,
                       sub_account: int) -> DriftClient:
    """driftpy's client, re-pointed at the profile's program id and IDL before it subscribes
    (driftpy fixes both to its bundled Drift constants), its accounts decoded by the strict
    coder: an account of another layout is refused (AccountLayoutError), never misread."""
    client = DriftClient(
        connection, keypair, "mainnet",
        account_subscription=AccountSubscriptionConfig("cached"),
        active_sub_account_id=sub_account, sub_account_ids=[sub_account],
        tx_params=TxParams(COMPUTE_UNITS, None),
    )
    idl = Idl.from_json(profile.idl_json())
    program = Program(idl, Pubkey.from_string(profile.program_id), client.program.provider)
    # The "cached" subscribers (client and user) and get_accounts call
    # program.coder.accounts.decode at each read, and the program's AccountClients share this
    # Coder, so replacing it here covers every read. (driftpy's polling user and websocket
    # subscribers keep the decode of the program they were built with: build them after this.)
    program.coder.accounts = StrictAccountsCoder(idl)
    client.program = program
    client.program_id = program.program_id
    client.account_subscriber.program = program
    return client


@dataclass(frozen=True)
class MarketRef:
    symbol: str
    index: int


class DriftView:
    def __init__(self, client: DriftClient, sub_account: int, quote_spot_index: int) -> None:
        self.client = client
        self.sub_account = sub_account
        self.quote_spot_index = quote_spot_index
        self.perp_by_symbol: dict[str, int] = {}
        self.spot_by_symbol: dict[str, int] = {}

    # --- reads

    async def load_all(self) -> None:
        """State, every market and oracle, the user: the first sync and every re-sync."""
        if self.client.users:
            await self.client.account_subscriber.fetch()
            await self.user.account_subscriber.fetch()
        else:
            await self.client.subscribe()
        cache = self.client.account_subscriber.cache
        self.perp_by_symbol = {market_name(m.data.name): m.data.market_index
                               for m in cache["perp_markets"]}
        self.spot_by_symbol = {market_name(m.data.name): m.data.market_index
                               for m in cache["spot_markets"]}

    async def refresh(self, perp_indexes: Iterable[int] = ()) -> None:
        """The user, then the State, its markets (and `perp_indexes`) with their oracles."""
        await self.user.account_subscriber.fetch()
        account = self.user_account()
        perps = set(perp_indexes) | {p.market_index for p in account.perp_positions
                                     if p.base_asset_amount != 0 or p.quote_asset_amount != 0
                                     or p.open_orders}
        spots = {self.quote_spot_index} | {p.market_index for p in account.spot_positions
                                           if p.scaled_balance != 0 or p.open_orders}
        program = self.client.program
        state, perp_markets, spot_markets = await asyncio.gather(
            get_state_account_and_slot(program),
            asyncio.gather(*(get_perp_market_account_and_slot(program, i) for i in perps)),
            asyncio.gather(*(get_spot_market_account_and_slot(program, i) for i in spots)),
        )
        oracles = [(m.data.amm.oracle, m.data.amm.oracle_source) for m in perp_markets if m] + \
                  [(m.data.oracle, m.data.oracle_source) for m in spot_markets if m]
        prices = await asyncio.gather(*(
            get_oracle_price_data_and_slot(self.client.connection, key, source)
            for key, source in oracles
        ))
        cache = self.client.account_subscriber.cache
        cache["state"] = state
        _replace_markets(cache["perp_markets"], [m for m in perp_markets if m])
        _replace_markets(cache["spot_markets"], [m for m in spot_markets if m])
        for (key, source), price in zip(oracles, prices, strict=True):
            cache["oracle_price_data"][get_oracle_id(key, source)] = price

    async def refresh_status(self, perp_index: int | None) -> None:
        """The State and one market's oracle: what the venue status reports."""
        program = self.client.program
        cache = self.client.account_subscriber.cache
        market = self.client.get_perp_market_account(perp_index) \
            if perp_index is not None else None
        reads = [get_state_account_and_slot(program)]
        if market is not None:
            reads.append(get_oracle_price_data_and_slot(
                self.client.connection, market.amm.oracle, market.amm.oracle_source))
        answers = await asyncio.gather(*reads)
        cache["state"] = answers[0]
        if market is not None:
            oracle_id = get_oracle_id(market.amm.oracle, market.amm.oracle_source)
            cache["oracle_price_data"][oracle_id] = answers[1]

    # --- what was read

    @property
    def user(self) -> DriftUser:
        return self.client.get_user(self.sub_account)

    def has_user(self) -> bool:
        try:
            return self.user.get_user_account_and_slot() is not None
        except KeyError:
            return False

    def user_account(self) -> UserAccount:
        if not self.has_user():
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"the wallet {self.client.authority} has no venue user account for sub-account "
                f"{self.sub_account}; initialize it first",
            )
        return self.user.get_user_account()

    def state(self) -> StateAccount:
        state = self.client.get_state_account()
        if state is None:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE, "the program's State is not loaded")
        return state

    def perp_ref(self, symbol: str) -> MarketRef:
        index = self.perp_by_symbol.get(symbol)
        if index is None:
            known = ", ".join(sorted(self.perp_by_symbol)[:12])
            raise DomainError(ErrorCode.INVALID_MARKET,
                              f"unknown market {symbol[:40]!r}; the venue lists: {known or 'none'}")
        return MarketRef(symbol, index)

    def perp_symbol(self, index: int) -> str:
        market = self.client.get_perp_market_account(index)
        return market_name(market.name) if market else f"PERP-{index}"

    def perp_market(self, index: int) -> PerpMarketAccount:
        market = self.client.get_perp_market_account(index)
        if market is None:
            raise DomainError(ErrorCode.INVALID_MARKET, f"perp market {index} is not loaded")
        return market

    def spot_market(self, index: int) -> SpotMarketAccount:
        market = self.client.get_spot_market_account(index)
        if market is None:
            raise DomainError(ErrorCode.INVALID_MARKET, f"spot market {index} is not loaded")
        return market

    def perp_oracle(self, index: int) -> OraclePriceData:
        price = self.client.get_oracle_price_data_for_perp_market(index)
        if price is None:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"no oracle price for perp market {index}")
        return price


def _replace_markets(cached: list, fresh: list) -> None:
    by_index = {m.data.market_index: m for m in fresh}
    for position, market in enumerate(cached):
        if market.data.market_index in by_index:
            cached[position] = by_index.pop(market.data.market_index)
    cached.extend(by_index.values())
