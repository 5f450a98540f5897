"""The feed adapter over real gRPC: against the test kit's fake feed, and against the real
FeedService on the recorded data when that package is present."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.errors import DomainError, ErrorCode
from services.common.market_clock import FeedClock
from services.common.timeutil import to_timestamp
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.market_data import FeedMarketData
from services.executor.paper_driver import PaperDriver
from tests.kit.executor_fakes import SOL_PRICE, START, FakeFeed, perp_market, serve_fake_feed


def market_data(channel: grpc.aio.Channel, ttl: float = 5.0) -> FeedMarketData:
    stub = feed_pb2_grpc.FeedServiceStub(channel)
    return FeedMarketData(stub, FeedClock(stub, max_age_seconds=0), markets_ttl_seconds=ttl)


async def test_reads_time_prices_markets_and_funding_from_the_feed(feed: FakeFeed) -> None:
    feed.add_market(perp_market("1MBONK-PERP", tradable=False, status="funding_paused",
                                initial="0.2", maintenance="0.1"), Decimal("0.021"))
    feed.set_rates("SOL-PERP", START, [Decimal("0.0001"), Decimal("-0.00002")])
    async with serve_fake_feed(feed) as address, grpc.aio.insecure_channel(address) as channel:
        data = market_data(channel)
        assert await data.now() == START
        price = await data.price("SOL-PERP")
        assert (price.oracle_price, price.oracle_twap) == (SOL_PRICE, SOL_PRICE)
        markets = await data.markets()
        assert set(markets) == {"SOL-PERP", "1MBONK-PERP"}  # untradable ones included
        bonk = markets["1MBONK-PERP"]
        assert (bonk.tradable, bonk.status, bonk.margin_ratio_maintenance) == (
            False, "funding_paused", Decimal("0.1"))
        records = await data.funding_records("SOL-PERP", START, START + timedelta(hours=2))
        assert [(r.period_start, r.rate_1h) for r in records] == [
            (START, Decimal("0.0001")), (START + timedelta(hours=1), Decimal("-0.00002"))]
        assert await data.funding_records("SOL-PERP", START, START + timedelta(hours=1)) == [
            records[0]]
        with pytest.raises(DomainError) as unknown:
            await data.price("DOGE-PERP")
        assert unknown.value.code == ErrorCode.INVALID_MARKET


async def test_the_markets_table_is_cached_briefly(feed: FakeFeed) -> None:
    async with serve_fake_feed(feed) as address, grpc.aio.insecure_channel(address) as channel:
        cached = market_data(channel, ttl=60)
        fresh = market_data(channel, ttl=0)
        await cached.markets()
        feed.add_market(perp_market("ETH-PERP"), Decimal(2000))
        assert "ETH-PERP" not in await cached.markets()
        assert "ETH-PERP" in await fresh.markets()


async def test_the_clock_and_its_prices_come_in_one_read_each_as_its_own_read_would(
    feed: FakeFeed,
) -> None:
    feed.add_market(perp_market("ZERO-PERP"), Decimal(0))
    async with serve_fake_feed(feed) as address, grpc.aio.insecure_channel(address) as channel:
        data = market_data(channel)
        now, priced = await data.now_and_prices(["SOL-PERP", "NOPE-PERP", "ZERO-PERP"])
        assert now == START
        assert priced["SOL-PERP"] == await data.price("SOL-PERP")
        # The refusals price() would raise, kept for where the price is used.
        unknown, unusable = priced["NOPE-PERP"], priced["ZERO-PERP"]
        assert isinstance(unknown, DomainError) and unknown.code == ErrorCode.INVALID_MARKET
        assert isinstance(unusable, DomainError) and unusable.code == ErrorCode.FEED_UNAVAILABLE
        assert await data.now_and_prices([]) == (START, {})


async def test_an_unreachable_feed_is_feed_unavailable() -> None:
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:
        data = market_data(channel)
        for call in (data.now(), data.price("SOL-PERP"), data.markets(),
                     data.now_and_prices(["SOL-PERP"])):
            with pytest.raises(DomainError) as caught:
                await call
            assert caught.value.code == ErrorCode.FEED_UNAVAILABLE


@pytest.mark.skipif(
    importlib.util.find_spec("services.feed.replay_market") is None,
    reason="the feed service is not in this tree",
)
async def test_paper_venue_on_the_real_feed_pays_recorded_funding(tmp_path: Path) -> None:
    from tests.kit.feed_builders import feed_server, replay_market

    start = datetime(2026, 1, 15, 12, tzinfo=UTC)  # SOL funding was positive that day
    async with feed_server(replay_market(tmp_path / "history")) as stubs:
        await stubs.replay.SetClock(feed_pb2.SetClockRequest(
            now=to_timestamp(start), paused=True, set_paused=True))
        stub = stubs.feed
        driver = PaperDriver(FeedMarketData(stub, FeedClock(stub, max_age_seconds=0)))
        await driver.start()
        assert (await driver.deposit("d", 0, Decimal(5000))).status is OrderStatus.FILLED
        opened = await driver.open_position(OpenOrder("o", 0, "SOL-PERP", Side.SHORT, Decimal(10)))
        assert opened.status is OrderStatus.FILLED, opened.error_message
        oracle = Decimal((await stub.GetPrice(feed_pb2.GetPriceRequest(
            market="SOL-PERP"))).price.oracle_price)
        assert opened.oracle_price == oracle

        await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=3 * 3600))
        state = await driver.account_state(0)
        history = await stub.GetFundingHistory(feed_pb2.GetFundingHistoryRequest(
            market="SOL-PERP", start=to_timestamp(start),
            end=to_timestamp(start + timedelta(hours=3))))
        expected = [10 * Decimal(r.rate_1h) * Decimal(r.oracle_twap) for r in history.records]
        assert len(expected) == 3
        assert [p.amount for p in state.funding_payments] == expected
        assert all(amount > 0 for amount in expected)  # positive rate: the short receives
        unknown = await driver.open_position(
            OpenOrder("bad", 0, "NOPE-PERP", Side.SHORT, Decimal(1))
        )
        assert unknown.error_code == ErrorCode.INVALID_MARKET
