"""The funding markets table at a chosen replay time: known answers from the recorded data."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from dne.feed.v1 import feed_pb2
from services.common.timeutil import from_timestamp, to_timestamp
from services.feed.replay_market import ReplayMarket
from tests.kit.feed_builders import (
    FeedStubs,
    feed_server,
    recorded_daily_rate,
    recorded_summaries,
    replay_market,
)

NOON_JAN_15 = datetime(2026, 1, 15, 12, tzinfo=UTC)
HOLDING_MARKETS = ["WIF-PERP", "XRP-PERP", "1MPEPE-PERP", "SUI-PERP", "JUP-PERP", "1MBONK-PERP"]
PREDICTION_MARKETS = {
    "KAMALA-POPULAR-VOTE-PREDICT", "KAMALA-POPULAR-VOTE-2024-BET", "TRUMP-WIN-2024-PREDICT"
}


async def table_at(
    stubs: FeedStubs, moment: datetime, include_untradable: bool = False
) -> feed_pb2.ListFundingMarketsResponse:
    await stubs.replay.SetClock(feed_pb2.SetClockRequest(now=to_timestamp(moment)))
    return await stubs.feed.ListFundingMarkets(
        feed_pb2.ListFundingMarketsRequest(include_untradable=include_untradable)
    )


def by_symbol(reply: feed_pb2.ListFundingMarketsResponse) -> dict[str, feed_pb2.FundingMarket]:
    return {market.symbol: market for market in reply.markets}


async def test_sol_perp_rate_on_2026_01_15_is_that_days_recorded_average(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, NOON_JAN_15)
    sol = by_symbol(reply)["SOL-PERP"]
    assert Decimal(sol.rate_1h) == Decimal("0.00000968") == recorded_daily_rate(
        "SOL-PERP", "2026-01-15"
    )
    assert Decimal(sol.apr) == Decimal("0.00000968") * 24 * 365 * 100
    assert Decimal(sol.rate_8h) == Decimal("0.00000968") * 8
    assert sol.direction == "shorts"
    assert sol.rate_source == "recorded_daily_average"
    # The last settled hour at 12:00 is 11:00-12:00.
    assert from_timestamp(sol.rate_period_start) == datetime(2026, 1, 15, 11, tzinfo=UTC)
    assert from_timestamp(reply.as_of) == NOON_JAN_15
    assert reply.source == "replay"


async def test_a_negative_recorded_day_says_longs_receive(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, datetime(2026, 1, 13, 18, tzinfo=UTC))
    sol = by_symbol(reply)["SOL-PERP"]
    assert Decimal(sol.rate_1h) == recorded_daily_rate("SOL-PERP", "2026-01-13") < 0
    assert sol.direction == "longs"


async def test_just_after_midnight_the_settled_hour_belongs_to_the_previous_day(
    stubs: FeedStubs,
) -> None:
    reply = await table_at(stubs, datetime(2026, 1, 15, 0, 30, tzinfo=UTC))
    assert Decimal(by_symbol(reply)["SOL-PERP"].rate_1h) == recorded_daily_rate(
        "SOL-PERP", "2026-01-14"
    )


async def test_btc_and_eth_use_their_recorded_daily_averages(stubs: FeedStubs) -> None:
    markets = by_symbol(await table_at(stubs, NOON_JAN_15))
    for symbol in ("BTC-PERP", "ETH-PERP"):
        assert Decimal(markets[symbol].rate_1h) == recorded_daily_rate(symbol, "2026-01-15")
        assert markets[symbol].rate_source == "recorded_daily_average"


async def test_markets_without_daily_data_hold_their_snapshot_rate(stubs: FeedStubs) -> None:
    markets = by_symbol(await table_at(stubs, NOON_JAN_15))
    summaries = recorded_summaries()
    for symbol in HOLDING_MARKETS:
        assert float(markets[symbol].rate_1h) == pytest.approx(
            summaries[symbol]["hourly_rate_fraction"], rel=1e-12
        ), symbol
        assert markets[symbol].rate_source == "snapshot_held"


async def test_funding_paused_1mbonk_is_listed_but_not_tradable(stubs: FeedStubs) -> None:
    bonk = by_symbol(await table_at(stubs, NOON_JAN_15))["1MBONK-PERP"]
    assert bonk.status == "funding_paused"
    assert not bonk.tradable
    assert "funding is paused" in bonk.not_tradable_reason


async def test_prediction_markets_are_listed_only_when_untradable_are_asked_for(
    stubs: FeedStubs,
) -> None:
    default = by_symbol(await table_at(stubs, NOON_JAN_15))
    assert not PREDICTION_MARKETS & set(default)
    everything = by_symbol(await table_at(stubs, NOON_JAN_15, include_untradable=True))
    assert set(everything) >= PREDICTION_MARKETS
    for symbol in PREDICTION_MARKETS:
        assert everything[symbol].contract_type == "prediction"
        assert not everything[symbol].tradable and everything[symbol].not_tradable_reason


async def test_active_perpetuals_are_tradable_with_margin_ratios_as_fractions(
    stubs: FeedStubs,
) -> None:
    sol = by_symbol(await table_at(stubs, NOON_JAN_15))["SOL-PERP"]
    assert sol.tradable and sol.not_tradable_reason == ""
    assert sol.contract_type == "perpetual" and sol.status == "active"
    assert Decimal(sol.margin_ratio_initial) == Decimal("0.05")
    assert Decimal(sol.margin_ratio_maintenance) == Decimal("0.03")
    assert sol.estimated_next_rate_1h == ""


async def test_open_interest_counts_both_sides_at_the_oracle_price(stubs: FeedStubs) -> None:
    sol = by_symbol(await table_at(stubs, NOON_JAN_15))["SOL-PERP"]
    assert Decimal(sol.open_interest) == Decimal("847926.47") * Decimal("85.016475")
    assert Decimal(sol.volume_24h) == Decimal("21702819.705585")
    assert Decimal(sol.oracle_price) == Decimal("85.016475")
    assert Decimal(sol.mark_price) == Decimal("85.001305")


async def test_markets_are_sorted_by_apr_descending(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, NOON_JAN_15, include_untradable=True)
    aprs = [Decimal(market.apr) for market in reply.markets]
    assert aprs == sorted(aprs, reverse=True)
    assert len(aprs) == 12


async def test_stats_sum_perpetuals_and_average_tradable_rates(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, NOON_JAN_15)
    perpetuals = [m for m in reply.markets if m.contract_type == "perpetual"]
    tradable = [m for m in perpetuals if m.tradable]
    stats = reply.stats
    assert stats.market_count == len(perpetuals) == 9
    assert Decimal(stats.total_oi) == sum(Decimal(m.open_interest) for m in perpetuals)
    assert Decimal(stats.volume_24h) == sum(Decimal(m.volume_24h) for m in perpetuals)
    mean = sum(Decimal(m.rate_1h) for m in tradable) / len(tradable)
    assert Decimal(stats.avg_funding) == mean
    assert Decimal(stats.avg_apr) == mean * 24 * 365 * 100
    alone = await stubs.feed.GetMarketStats(feed_pb2.GetMarketStatsRequest())
    assert alone.stats == stats


async def test_model_notes_say_what_is_modeled(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, NOON_JAN_15)
    notes = " ".join(reply.model_notes)
    for phrase in ("recorded_daily_average", "snapshot_held", "dne data import", "price scenario"):
        assert phrase in notes
    # The replay computes the table at request time: nothing was fetched that could be stale.
    assert reply.data_age_seconds == 0.0


async def test_serving_the_table_sets_the_funding_apr_metric(stubs: FeedStubs) -> None:
    reply = await table_at(stubs, NOON_JAN_15)
    sol = by_symbol(reply)["SOL-PERP"]
    value = REGISTRY.get_sample_value("dne_funding_apr_percent", {"market": "SOL-PERP"})
    assert value == pytest.approx(float(sol.apr))
    assert REGISTRY.get_sample_value("dne_feed_data_age_seconds") == 0.0


async def test_before_the_first_hour_settles_the_first_recorded_hour_is_shown(
    import_dir: Path,
) -> None:
    market: ReplayMarket = replay_market(import_dir)   # starts at 2026-01-10T00:00
    async with feed_server(market) as stubs:
        reply = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    sol = by_symbol(reply)["SOL-PERP"]
    assert Decimal(sol.rate_1h) == recorded_daily_rate("SOL-PERP", "2026-01-10")
    assert from_timestamp(sol.rate_period_start) == datetime(2026, 1, 10, tzinfo=UTC)
    assert any("No funding hour has settled yet" in note for note in reply.model_notes)
