"""Builders for the live feed's tests: the live source on the venue stand-in, on a manual
clock, with waits that cost nothing; a gRPC server over it; driftpy's own reads to compare."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from anchorpy import Idl, Program, Provider, Wallet
from driftpy.accounts.get_accounts import get_perp_market_account
from driftpy.accounts.oracle import get_oracle_price_data_and_slot
from driftpy.constants.numeric_constants import PRICE_PRECISION
from driftpy.math.amm import calculate_price
from driftpy.math.funding import calculate_long_short_funding_and_live_twaps
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

from services.common.clock import ManualClock
from services.common.venue_profile import VenueProfile, load_profile
from services.feed.chain_live import ChainLiveMarket
from services.feed.data_api_history import DataApiHistory
from services.feed.drift_accounts import decode_perp_market
from services.feed.drift_chain import DriftChainReader
from tests.kit.feed_builders import FeedStubs, feed_server
from tests.kit.venue_sim_builders import SimAndWallet

# Wall time of the tests: after every recorded account, so every recorded hour has settled.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TTL_SECONDS = 300.0
BACKOFF_SECONDS = 30.0
PRICE_REFRESH_SECONDS = 3.0


@dataclass
class RecordedSleep:
    """tenacity's sleep for tests: records the waits, waits for nothing, may run a hook."""

    waits: list[float] = field(default_factory=list)
    on_wait: Any = None

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_wait is not None:
            self.on_wait(len(self.waits))


def drift_profile() -> VenueProfile:
    return load_profile("drift")


def live_market(
    sim: SimAndWallet,
    clock: ManualClock,
    *,
    sleep: RecordedSleep | None = None,
    retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
    data_api_url: str | None = None,
    data_api_shape: str = "auto",
    data_api_client: httpx.AsyncClient | None = None,
    market_indexes: Sequence[int] | None = None,
    profile: VenueProfile | None = None,
) -> ChainLiveMarket:
    """The live source as __main__ builds it, on the stand-in; waits recorded, not slept."""
    sleep = sleep or RecordedSleep()
    profile = profile or drift_profile()
    reader = DriftChainReader(
        AsyncClient(sim.sim.rpc_url), profile, market_indexes=market_indexes,
        retry_delays=retry_delays, sleep=sleep,
    )
    history = DataApiHistory(
        sim.sim.data_api_url if data_api_url is None else data_api_url, clock,
        shape=data_api_shape, ttl_seconds=TTL_SECONDS, retry_delays=retry_delays,
        client=data_api_client, sleep=sleep,
    )
    return ChainLiveMarket(
        reader, history, clock, cache_ttl_seconds=TTL_SECONDS,
        price_refresh_seconds=PRICE_REFRESH_SECONDS, failure_backoff_seconds=BACKOFF_SECONDS,
    )


# One in-process feed server serves both sources: the servicers take either market.
LiveStubs = FeedStubs
live_feed_server = feed_server


@asynccontextmanager
async def driftpy_program(rpc_url: str) -> AsyncIterator[Program]:
    """driftpy's way of reading accounts: an anchorpy Program on the profile's IDL and id."""
    profile = drift_profile()
    connection = AsyncClient(rpc_url)
    program = Program(
        Idl.from_json(profile.idl_json()), Pubkey.from_string(profile.program_id),
        Provider(connection, Wallet.dummy()),
    )
    try:
        yield program
    finally:
        await connection.close()


async def driftpy_estimate(program: Program, market_index: int, now: datetime) -> Decimal:
    """driftpy's own estimate of the next hourly rate (long side), read through driftpy's own
    account and oracle fetches, as a fraction (driftpy answers percent x PRICE_PRECISION)."""
    market = await get_perp_market_account(program, market_index)
    assert market is not None
    oracle = await get_oracle_price_data_and_slot(
        program.provider.connection, market.amm.oracle, market.amm.oracle_source
    )
    amm = market.amm
    mark = calculate_price(amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier)
    _mark_twap, _oracle_twap, long_rate, _short = (
        await calculate_long_short_funding_and_live_twaps(
            market, oracle.data, mark, int(now.timestamp())
        )
    )
    return Decimal(int(long_rate)) / PRICE_PRECISION / 100


def served_perp_markets(sim: SimAndWallet) -> set[str]:
    """The symbols of every PerpMarket account the stand-in serves."""
    return {decode_perp_market(bytes(account.data)).symbol
            for account in sim.venue.store.of_kind("PerpMarket")}

class FakeChainReader:
    """A DriftChainReader stand-in without a network: the recorded accounts, or a failure."""

    def __init__(self, markets: list[Any], slot: int = 405_300_000) -> None:
        self.markets = markets
        self.slot = slot
        self.down = False
        self.reads = 0

    async def read_markets(self) -> Any:
        from services.feed.drift_chain import ChainMarkets, ChainReadError, OracleReadings

        self.reads += 1
        if self.down:
            raise ChainReadError("getMultipleAccounts: ConnectError: the RPC is down")
        return ChainMarkets(self.slot, list(self.markets), [], OracleReadings(self.slot, {}))

    async def read_oracles(self, markets: Sequence[Any]) -> Any:
        from services.feed.drift_chain import ChainReadError, OracleReadings

        if self.down:
            raise ChainReadError("getMultipleAccounts: ConnectError: the RPC is down")
        return OracleReadings(self.slot, {})

    async def close(self) -> None:
        return None


def recorded_perp_accounts() -> list[Any]:
    """The recorded PerpMarket accounts decoded by driftpy's IDL, the latest per index."""
    import base64
    import json

    from services.feed.drift_accounts import drift_accounts_coder
    from tests.kit.feed_builders import SNAPSHOTS

    latest: dict[int, Any] = {}
    for record in json.loads(SNAPSHOTS.read_text())["accounts"]:
        if record["kind"] != "PerpMarket":
            continue
        market = drift_accounts_coder().decode(base64.b64decode(record["base64"]))
        key = (market.amm.last_update_slot,
               market.amm.historical_oracle_data.last_oracle_price_twap_ts)
        held = latest.get(market.market_index)
        if held is None or key > (held.amm.last_update_slot,
                                  held.amm.historical_oracle_data.last_oracle_price_twap_ts):
            latest[market.market_index] = market
    return list(latest.values())


def offline_live_market(reader: FakeChainReader, clock: ManualClock) -> ChainLiveMarket:
    history = DataApiHistory("", clock)
    return ChainLiveMarket(
        reader, history, clock, cache_ttl_seconds=TTL_SECONDS,  # type: ignore[arg-type]
        price_refresh_seconds=PRICE_REFRESH_SECONDS, failure_backoff_seconds=BACKOFF_SECONDS,
    )
