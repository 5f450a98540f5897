"""driftpy's DriftClient on the profile's program, and the reads the driver refreshes.

The subscription is "cached" (plain getAccountInfo reads: works on any RPC, and offline against
the stand-in). Its first subscribe finds every market (symbols -> indexes); afterwards
`refresh()` re-reads only what a decision needs (State, the user, its markets and their oracles)
concurrently, and writes them into driftpy's cache so DriftUser's math sees them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

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
    MarketType,
    OrderParams,
    OrderType,
    PositionDirection,
    TxParams,
)
from solana.rpc.async_api import AsyncClient
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from services.common.account_layouts import StrictAccountsCoder
from services.common.venue_profile import VenueProfile
from services.executor.drift.venue_view import PerpOrderParams, VenueView, market_name

COMPUTE_UNITS = 600_000


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


class DriftView(VenueView):
    def __init__(self, client: DriftClient, sub_account: int, quote_spot_index: int) -> None:
        self.client = client
        self.accounts = client
        self.authority = client.authority
        self.sub_account = sub_account
        self.quote_spot_index = quote_spot_index
        self.perp_by_symbol: dict[str, int] = {}
        self.spot_by_symbol: dict[str, int] = {}

    # --- reads

    async def load_all(self) -> None:
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

    async def lookup_tables(self) -> list[AddressLookupTableAccount]:
        return await self.client.fetch_market_lookup_table_accounts()

    @property
    def user(self) -> DriftUser:
        return self.client.get_user(self.sub_account)

    # --- instructions

    async def deposit_instructions(self, units: int, token_account: Pubkey) -> list[Instruction]:
        return await self.client.get_deposit_collateral_ix(
            units, self.quote_spot_index, token_account, self.sub_account, False, True)

    async def withdraw_instructions(self, units: int,
                                    token_account: Pubkey) -> list[Instruction]:
        return await self.client.get_withdraw_collateral_ix(
            units, self.quote_spot_index, token_account, True, self.sub_account)

    def perp_order_instruction(self, order: PerpOrderParams) -> Instruction:
        params = OrderParams(
            order_type=OrderType.Market(),
            market_type=MarketType.Perp(),
            direction=PositionDirection.Long() if order.long else PositionDirection.Short(),
            base_asset_amount=order.base_units,
            market_index=order.index,
            price=order.limit_price,
            user_order_id=order.user_order_id,
            reduce_only=order.reduce_only,
            max_ts=order.max_ts,
        )
        return self.client.get_place_perp_order_ix(params, self.sub_account)

    def settle_pnl_instruction(self, perp_index: int) -> Instruction:
        return self.client.get_settle_pnl_ix(
            self.client.get_user_account_public_key(self.sub_account), self.user_account(),
            perp_index)


def _replace_markets(cached: list, fresh: list) -> None:
    by_index = {m.data.market_index: m for m in fresh}
    for position, market in enumerate(cached):
        if market.data.market_index in by_index:
            cached[position] = by_index.pop(market.data.market_index)
    cached.extend(by_index.values())
