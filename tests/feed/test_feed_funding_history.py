"""GetFundingHistory: settled hours in [start, end), with where each rate came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.common.timeutil import from_timestamp, to_timestamp
from tests.kit.feed_builders import FIRST_DAY, FeedStubs, recorded_daily_rate, recorded_summaries

NOW = datetime(2026, 1, 16, 5, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def records(
    stubs: FeedStubs,
    market: str = "SOL-PERP",
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 0,
) -> list[feed_pb2.FundingRecord]:
    request = feed_pb2.GetFundingHistoryRequest(market=market, limit=limit)
    if start is not None:
        request.start.CopyFrom(to_timestamp(start))
    if end is not None:
        request.end.CopyFrom(to_timestamp(end))
    return list((await stubs.feed.GetFundingHistory(request)).records)


def starts(found: list[feed_pb2.FundingRecord]) -> list[datetime]:
    return [from_timestamp(record.period_start) for record in found]


@pytest.fixture(autouse=True)
async def clock_at_now(stubs: FeedStubs) -> None:
    await stubs.replay.SetClock(feed_pb2.SetClockRequest(now=to_timestamp(NOW)))


async def test_every_hour_of_a_recorded_day_has_that_days_average(stubs: FeedStubs) -> None:
    day = datetime(2026, 1, 15, tzinfo=UTC)
    found = await records(stubs, start=day, end=day + timedelta(days=1))
    assert starts(found) == [day + i * HOUR for i in range(24)]
    expected = recorded_daily_rate("SOL-PERP", "2026-01-15")
    for record in found:
        assert Decimal(record.rate_1h) == expected
        assert Decimal(record.apr) == expected * 24 * 365 * 100
        assert record.source == "recorded_daily_average"
        assert record.market == "SOL-PERP"
        assert Decimal(record.oracle_twap) == Decimal("85.016475")


async def test_markets_without_daily_data_hold_the_snapshot_rate_every_hour(
    stubs: FeedStubs,
) -> None:
    found = await records(stubs, "WIF-PERP", start=datetime(2026, 1, 16, tzinfo=UTC))
    assert len(found) == 5
    summary = recorded_summaries()["WIF-PERP"]
    for record in found:
        assert float(record.rate_1h) == pytest.approx(summary["hourly_rate_fraction"], rel=1e-12)
        assert record.source == "snapshot_held"


async def test_end_defaults_to_now_and_unsettled_hours_are_never_returned(
    stubs: FeedStubs,
) -> None:
    # At 05:30 the hour 04:00-05:00 has settled; 05:00-06:00 has not.
    found = await records(stubs, start=NOW - 3 * HOUR)
    assert starts(found) == [datetime(2026, 1, 16, h, tzinfo=UTC) for h in (3, 4)]
    future = await records(stubs, start=NOW - 3 * HOUR, end=NOW + timedelta(days=3))
    assert starts(future) == starts(found)


async def test_start_is_inclusive_and_end_exclusive(stubs: FeedStubs) -> None:
    start = datetime(2026, 1, 15, 10, tzinfo=UTC)
    found = await records(stubs, start=start, end=start + 3 * HOUR)
    assert starts(found) == [start, start + HOUR, start + 2 * HOUR]
    # A start inside an hour excludes that hour (its period_start is before start).
    inside = await records(stubs, start=start + timedelta(minutes=1), end=start + 3 * HOUR)
    assert starts(inside) == [start + HOUR, start + 2 * HOUR]
    # An end inside an hour includes that hour (its period_start is before end).
    partial = await records(stubs, start=start, end=start + timedelta(minutes=1))
    assert starts(partial) == [start]
    assert await records(stubs, start=start, end=start) == []


async def test_unset_start_means_the_first_recorded_hour_and_limit_caps_the_answer(
    stubs: FeedStubs,
) -> None:
    found = await records(stubs, limit=5)
    assert starts(found) == [FIRST_DAY + i * HOUR for i in range(5)]
    everything = await records(stubs)
    assert len(everything) == (NOW - FIRST_DAY) // HOUR
    assert starts(everything)[-1] == datetime(2026, 1, 16, 4, tzinfo=UTC)


async def test_a_range_before_the_data_is_empty(stubs: FeedStubs) -> None:
    assert await records(stubs, start=FIRST_DAY - timedelta(days=5), end=FIRST_DAY) == []


async def test_start_after_end_is_invalid(stubs: FeedStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await records(stubs, start=NOW, end=NOW - HOUR)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "after end" in (refused.value.details() or "")


async def test_an_out_of_range_timestamp_is_invalid(stubs: FeedStubs) -> None:
    request = feed_pb2.GetFundingHistoryRequest(market="SOL-PERP")
    request.start.seconds = 10**15
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.feed.GetFundingHistory(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_history_of_an_unknown_market_is_not_found(stubs: FeedStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await records(stubs, "DOGE-PERP")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "known markets" in (refused.value.details() or "")
    assert "SOL-PERP" in (refused.value.details() or "")


async def test_the_table_rate_is_the_history_record_of_the_last_settled_hour(
    stubs: FeedStubs,
) -> None:
    table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    last = {}
    for market in table.markets:
        found = await records(stubs, market.symbol, start=NOW - 2 * HOUR)
        last[market.symbol] = found[-1]
    for market in table.markets:
        assert market.rate_period_start == last[market.symbol].period_start
        assert market.rate_1h == last[market.symbol].rate_1h
        assert market.rate_source == last[market.symbol].source
