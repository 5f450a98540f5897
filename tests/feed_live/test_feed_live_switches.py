"""The stand-in's market switches (oracle price and staleness, a funding update) reach the
live feed: after the price refresh interval for prices, after the cache TTL for the table."""

from __future__ import annotations

from decimal import Decimal

import httpx

from services.common.clock import ManualClock
from services.feed.chain_live import ChainLiveMarket
from services.feed.drift_accounts import decode_perp_market
from services.feed.drift_live_rows import SECONDS_PER_SLOT
from services.feed.history_import import period_start_of
from tests.kit.feed_live_builders import PRICE_REFRESH_SECONDS, TTL_SECONDS
from tests.kit.venue_sim_builders import SimAndWallet

SOL = 0
# the stand-in's chain advances a slot per 0.4 s of real time while the test runs
SLOT_SLACK = 10


async def _control(sim: SimAndWallet, switch: str, body: dict[str, object]) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{sim.sim.rpc_url}/_control/{switch}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_moved_stale_oracle_shows_its_price_and_age_after_the_refresh_interval(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    before = await live.price("SOL-PERP")
    await _control(sim, "oracle", {"market_index": SOL, "price": "90.5", "stale_slots": 25})
    clock.advance(PRICE_REFRESH_SECONDS - 1)
    assert (await live.price("SOL-PERP")).oracle == before.oracle   # not re-read yet
    clock.advance(1)
    moved = await live.price("SOL-PERP")
    assert moved.oracle == Decimal("90.5") and moved.source == "onchain"
    assert 25 <= moved.oracle_age_slots <= 25 + SLOT_SLACK
    assert moved.oracle_age_seconds == moved.oracle_age_slots * SECONDS_PER_SLOT


async def test_a_funding_update_shows_as_the_last_settled_rate_after_the_cache_expires(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    await live.funding_table(include_untradable=False)
    await _control(sim, "funding", {"market_index": SOL, "rate_1h": "0.0001"})
    served = next(decode_perp_market(bytes(account.data))
                  for account in sim.venue.store.of_kind("PerpMarket")
                  if decode_perp_market(bytes(account.data)).market_index == SOL)
    clock.advance(TTL_SECONDS)
    sol = next(row for row in (await live.funding_table(include_untradable=False)).rows
               if row.symbol == "SOL-PERP")
    # the stand-in writes rate x oracle price; the feed divides by the oracle TWAP
    assert sol.rate_1h == served.hourly_rate
    assert abs(sol.rate_1h - Decimal("0.0001")) < Decimal("0.0001") * Decimal("0.001")
    assert sol.rate_period_start == period_start_of(int(served.last_funding_at.timestamp()))
    assert sol.direction == "shorts"
