"""The cached funding markets table (issue 12): every answer equals the table built afresh at
the same market time, across hour ticks, clock jumps both ways, scenarios and reloads."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from dne.feed.v1 import feed_pb2
from services.common.timeutil import from_timestamp, to_timestamp
from services.feed import wire
from services.feed.history_import import run_import
from services.feed.replay_market import ReplayMarket
from tests.kit.feed_builders import FIXTURES, FakeMonotonic, FeedStubs, feed_server, replay_market

# Jan 15: SOL's recorded daily average; the scaled fixture imports 12:00 and 13:00 of that day.
START = datetime(2026, 1, 15, 11, 58, tzinfo=UTC)
SCALED = FIXTURES / "scaled_fundingRates_SOL-PERP.json"


async def served(
    stubs: FeedStubs, include_untradable: bool = False
) -> feed_pb2.ListFundingMarketsResponse:
    return await stubs.feed.ListFundingMarkets(
        feed_pb2.ListFundingMarketsRequest(include_untradable=include_untradable)
    )


async def assert_fresh(
    stubs: FeedStubs, market: ReplayMarket
) -> feed_pb2.ListFundingMarketsResponse:
    """Both listings as served equal the table computed afresh at the answer's market time."""
    for include_untradable in (False, True):
        reply = await served(stubs, include_untradable)
        fresh = market.build_table(include_untradable, from_timestamp(reply.as_of))
        assert list(reply.markets) == [wire.funding_market(row) for row in fresh.rows]
        assert reply.stats == wire.market_stats(fresh.stats)
        assert list(reply.model_notes) == fresh.notes
        assert from_timestamp(reply.as_of) == market.now()
    return await served(stubs)


def sol(reply: feed_pb2.ListFundingMarketsResponse) -> feed_pb2.FundingMarket:
    return next(row for row in reply.markets if row.symbol == "SOL-PERP")


async def test_the_cached_table_is_never_stale_after_a_tick_a_jump_a_scenario_or_a_reload(
    import_dir: Path,
) -> None:
    wall = FakeMonotonic()
    market = replay_market(import_dir, start=START, speed=60.0, paused=False, wall=wall)
    async with feed_server(market) as stubs:
        before = await assert_fresh(stubs, market)
        assert from_timestamp(sol(before).rate_period_start).hour == 10

        wall.sleep(1.0)    # one market minute: same hour, as_of moves on, rows stay
        same = await assert_fresh(stubs, market)
        assert from_timestamp(same.as_of) > from_timestamp(before.as_of)
        assert list(same.markets) == list(before.markets)

        wall.sleep(1.5)    # 12:00:30: the 11:00 hour settles (a tick of the market clock)
        ticked = await assert_fresh(stubs, market)
        assert from_timestamp(sol(ticked).rate_period_start).hour == 11

        # A scenario from 12:00:30 on; then a jump back before it and a run forward across it.
        await stubs.replay.SetPriceScenario(
            feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price="123"))
        assert Decimal(sol(await assert_fresh(stubs, market)).oracle_price) == 123
        await stubs.replay.SetClock(feed_pb2.SetClockRequest(
            now=to_timestamp(datetime(2026, 1, 15, 12, 0, 10, tzinfo=UTC))))
        assert Decimal(sol(await assert_fresh(stubs, market)).oracle_price) != 123
        wall.sleep(0.5)    # 12:00:40, past the scenario's start within the same hour
        assert Decimal(sol(await assert_fresh(stubs, market)).oracle_price) == 123
        await stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest(market=""))
        assert Decimal(sol(await assert_fresh(stubs, market)).oracle_price) != 123

        # A jump back an hour shows the earlier settled hour again.
        await stubs.replay.SetClock(feed_pb2.SetClockRequest(now=to_timestamp(START)))
        back = await assert_fresh(stubs, market)
        assert from_timestamp(sol(back).rate_period_start).hour == 10

        # Reloaded history replaces the 12:00 hour the cache holds at 13:30.
        await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=5520))
        held = await assert_fresh(stubs, market)
        assert sol(held).rate_source == "recorded_daily_average"
        assert run_import(SCALED, import_dir, io.StringIO(), io.StringIO()) == 0
        await stubs.replay.ReloadHistory(feed_pb2.ReloadHistoryRequest())
        reloaded = await assert_fresh(stubs, market)
        assert sol(reloaded).rate_source == "imported_hourly"


async def test_an_unchanged_table_is_answered_from_the_cache(market: ReplayMarket) -> None:
    first = market.funding_table(include_untradable=False)
    again = market.funding_table(include_untradable=False)
    assert again.rows is first.rows
    other = market.funding_table(include_untradable=True)
    assert other.rows is not first.rows
