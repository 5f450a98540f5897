"""Builders for tests of the venue stand-in: a started stand-in, a DriftClient pointed at it,
and full OrderParams."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.accounts.bulk_account_loader import BulkAccountLoader
from driftpy.drift_client import DriftClient
from driftpy.types import MarketType, OrderParams, OrderType, PositionDirection
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from services.common.venue_profile import VenueProfile, load_profile
from services.venue_sim.accounts import (
    SnapshotRecord,
    build_store,
    load_snapshot,
)
from services.venue_sim.chain import Chain
from services.venue_sim.drift_coder import program_coder
from services.venue_sim.server import RunningVenueSim, start_venue_sim
from services.venue_sim.settings import DEFAULT_ACCOUNTS, DEFAULT_DATA_DIR
from services.venue_sim.venue import Venue

WALLET_USDC = 10_000 * 10**6
WALLET_LAMPORTS = 2 * 10**9
DRIFT = load_profile("drift")
PROGRAM_ID = Pubkey.from_string(DRIFT.program_id)
QUOTE_MINT = Pubkey.from_string(DRIFT.quote_mint)
SOL_MINT = Pubkey.from_string(DRIFT.sol_mint)
decode_account = program_coder(DRIFT).decode
# A program id no venue has: the made-up fork below (sha256 of a label, as 32 bytes).
FORK_PROGRAM_ID = Pubkey.from_bytes(hashlib.sha256(b"dne test fork of drift").digest())


def fork_profile() -> VenueProfile:
    """A Drift fork in Drift's layouts, at another program id with USDT (Velocity's quote mint)
    as quote: what re-pointing the program id needs. Velocity itself is refused (its layouts
    differ: issue 14), so tests of a re-pointed program use this profile."""
    return VenueProfile.model_validate({
        **DRIFT.model_dump(), "name": "fork", "display_name": "Test fork",
        "program_id": str(FORK_PROGRAM_ID), "quote_symbol": "USDT",
        "quote_mint": load_profile("velocity").quote_mint, "data_api_url": "",
    })


@cache
def recorded_records() -> tuple[SnapshotRecord, ...]:
    return tuple(load_snapshot(DEFAULT_ACCOUNTS))


def make_venue(*, paused: bool = False, wallets: tuple[Keypair, ...] = (),
               profile: VenueProfile | None = None, genesis_hash: str = "") -> Venue:
    store = build_store(list(recorded_records()), profile=profile or DRIFT, paused=paused,
                        wallets=[wallet.pubkey() for wallet in wallets],
                        wallet_usdc=WALLET_USDC, wallet_lamports=WALLET_LAMPORTS)
    return Venue(store, Chain(start_slot=405_300_000), genesis_hash=genesis_hash)


@dataclass
class SimAndWallet:
    sim: RunningVenueSim
    wallet: Keypair

    @property
    def venue(self) -> Venue:
        return self.sim.venue


@contextlib.asynccontextmanager
async def running_sim(*, paused: bool = False, profile: VenueProfile | None = None,
                      genesis_hash: str = "") -> AsyncIterator[SimAndWallet]:
    wallet = Keypair()
    venue = make_venue(paused=paused, wallets=(wallet,), profile=profile,
                       genesis_hash=genesis_hash)
    sim = await start_venue_sim(venue, DEFAULT_DATA_DIR)
    try:
        yield SimAndWallet(sim, wallet)
    finally:
        await sim.stop()


def subscription(kind: str, connection: AsyncClient) -> AccountSubscriptionConfig:
    if kind == "polling":
        return AccountSubscriptionConfig("polling", BulkAccountLoader(connection, frequency=0.1))
    return AccountSubscriptionConfig(kind)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def drift_client(
    rpc_url: str,
    wallet: Keypair,
    kind: str = "cached",
    *,
    perp_market_indexes: list[int] | None = None,
    spot_market_indexes: list[int] | None = None,
    **kwargs: object,
) -> AsyncIterator[DriftClient]:
    """driftpy's own client, unchanged, on the stand-in URL; subscribed, closed afterwards."""
    connection = AsyncClient(rpc_url)
    client = DriftClient(
        connection, wallet, "mainnet",
        account_subscription=subscription(kind, connection),
        perp_market_indexes=perp_market_indexes,
        spot_market_indexes=spot_market_indexes,
        **kwargs,  # type: ignore[arg-type]
    )
    try:
        await client.subscribe()
        yield client
    finally:
        if kind != "cached":
            await client.unsubscribe()
            for user in client.users.values():
                # DriftUser.unsubscribe does not await the websocket subscriber's coroutine
                if kind == "websocket":
                    await user.account_subscriber.unsubscribe()
                else:
                    user.unsubscribe()
        await connection.close()


def use_program(client: DriftClient, program_id: Pubkey, subscription_config:
                AccountSubscriptionConfig, perp_market_indexes: list[int] | None = None,
                spot_market_indexes: list[int] | None = None) -> DriftClient:
    """Points a not yet subscribed DriftClient at another program (a fork's profile):
    driftpy 0.8.89's DriftClient has no program_id argument and hard-codes Drift's."""
    from anchorpy import Program

    client.program_id = program_id
    client.program = Program(client.program.idl, program_id, client.program.provider)
    client.account_subscriber = subscription_config.get_drift_client_subscriber(
        client.program, perp_market_indexes, spot_market_indexes, None)
    return client


def short_market_order(base_amount: int = 500_000_000, price_limit: int = 84_000_000,
                       market_index: int = 0) -> OrderParams:
    """A full OrderParams: a market order to short `base_amount` (1e9) no lower than
    `price_limit` (1e6)."""
    return OrderParams(
        order_type=OrderType.Market(),
        market_type=MarketType.Perp(),
        direction=PositionDirection.Short(),
        base_asset_amount=base_amount,
        market_index=market_index,
        price=price_limit,
        user_order_id=7,
        reduce_only=False,
    )


def snapshot_path() -> Path:
    return DEFAULT_ACCOUNTS
