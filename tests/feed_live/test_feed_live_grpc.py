"""The feed's gRPC services over the live source, on a real in-process server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.feed.chain_live import ChainLiveMarket
from tests.kit.feed_live_builders import NOW, LiveStubs, live_feed_server
from tests.kit.venue_sim_builders import SimAndWallet


@pytest.fixture
async def stubs(live: ChainLiveMarket) -> AsyncIterator[LiveStubs]:
    async with live_feed_server(live) as running:
        yield running


async def test_list_funding_markets_answers_the_live_table_with_its_source_and_age(
    stubs: LiveStubs,
) -> None:
    reply = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    assert reply.source == "drift" and reply.data_age_seconds == 0
    assert reply.as_of.ToDatetime(tzinfo=UTC) == NOW
    sol = next(m for m in reply.markets if m.symbol == "SOL-PERP")
    assert Decimal(sol.rate_1h) == Decimal(-987625) / 10**9 / (Decimal(85043706) / 10**6)
    assert sol.rate_source == "onchain_last_settled"
    assert sol.rate_period_start.ToDatetime(tzinfo=UTC) == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert sol.estimated_next_rate_1h != "" and sol.tradable
    assert reply.stats.market_count == 9


async def test_get_clock_answers_wall_time(stubs: LiveStubs) -> None:
    clock = (await stubs.feed.GetClock(feed_pb2.GetClockRequest())).clock
    assert clock.mode == "wall" and clock.speed == 1 and not clock.paused
    assert clock.now.ToDatetime(tzinfo=UTC) == NOW


@pytest.mark.parametrize("call, request_message", [
    ("SetClock", feed_pb2.SetClockRequest(speed=2)),
    ("AdvanceClock", feed_pb2.AdvanceClockRequest(seconds=60)),
    ("SetPriceScenario", feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price="1")),
    ("ClearPriceScenario", feed_pb2.ClearPriceScenarioRequest()),
    ("ReloadHistory", feed_pb2.ReloadHistoryRequest()),
])
async def test_replay_controls_are_a_failed_precondition_in_live_mode(
    stubs: LiveStubs, call: str, request_message: object,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await getattr(stubs.replay, call)(request_message)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "live chain data" in (refused.value.details() or "")


async def test_get_price_answers_the_decoded_oracle_price_with_its_age(stubs: LiveStubs) -> None:
    price = (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="SOL-PERP"))).price
    assert price.oracle_price == "85.016475" and price.price_source == "onchain"
    assert price.oracle_age_seconds > 5000      # the recorded account is 13,086+ slots old
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="NOPE-PERP"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_clock_and_the_table_carry_the_live_prices_asked_with_them(
    stubs: LiveStubs,
) -> None:
    """As GetPrice answers each, read from the chain; an unknown market is left out."""
    alone = (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="SOL-PERP"))).price
    clock = await stubs.feed.GetClock(feed_pb2.GetClockRequest(
        with_prices=["NOPE-PERP", "SOL-PERP"]))
    table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest(
        with_prices=["SOL-PERP", "NOPE-PERP"]))
    for reply in (clock, table):
        assert [price.market for price in reply.prices] == ["SOL-PERP"]
        price = reply.prices[0]
        assert (price.oracle_price, price.price_source) == (alone.oracle_price, "onchain")
        assert price.oracle_age_seconds > 5000   # its age travels: the engine refuses stale
    assert clock.clock.mode == "wall"


async def test_stream_prices_streams_the_tradable_markets(stubs: LiveStubs) -> None:
    stream = stubs.feed.StreamPrices(feed_pb2.StreamPricesRequest(interval_seconds=0.05))
    first = await stream.read()
    stream.cancel()
    markets = {price.market for price in first.prices}
    assert "SOL-PERP" in markets and "1MBONK-PERP" not in markets
    assert len(markets) == 8


async def test_get_funding_history_answers_the_data_apis_hours(stubs: LiveStubs) -> None:
    table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    btc = next(m for m in table.markets if m.symbol == "BTC-PERP")
    reply = await stubs.feed.GetFundingHistory(
        feed_pb2.GetFundingHistoryRequest(market="BTC-PERP", limit=24))
    assert len(reply.records) == 24
    # the oldest hour the Data API serves is the one the account settled last (July 2025)
    first = reply.records[0]
    assert first.period_start == btc.rate_period_start
    assert Decimal(first.rate_1h) == Decimal(btc.rate_1h) and first.source == "data_api_hourly"
    assert reply.records[1].period_start.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 10,
                                                                            tzinfo=UTC)


async def test_an_rpc_down_before_any_read_answers_unavailable(
    sim: SimAndWallet, stubs: LiveStubs,
) -> None:
    sim.venue.control.set(drop=["*"])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
