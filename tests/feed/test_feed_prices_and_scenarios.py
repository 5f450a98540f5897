"""Prices: the recorded oracle price held, unless a scenario sets it from a market time on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.common.timeutil import from_timestamp, to_timestamp
from services.feed.servicers import MAX_PRICES_PER_CALL
from tests.kit.feed_builders import FeedStubs

START = datetime(2026, 1, 15, 12, tzinfo=UTC)
SOL_ORACLE = Decimal("85.016475")


async def at(stubs: FeedStubs, moment: datetime) -> None:
    await stubs.replay.SetClock(feed_pb2.SetClockRequest(now=to_timestamp(moment)))


async def sol_price(stubs: FeedStubs) -> feed_pb2.Price:
    return (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="SOL-PERP"))).price


async def history(stubs: FeedStubs, start: datetime, end: datetime) -> list[feed_pb2.FundingRecord]:
    reply = await stubs.feed.GetFundingHistory(feed_pb2.GetFundingHistoryRequest(
        market="SOL-PERP", start=to_timestamp(start), end=to_timestamp(end)))
    return list(reply.records)


async def test_get_price_holds_the_recorded_snapshot_price(stubs: FeedStubs) -> None:
    await at(stubs, START)
    price = await sol_price(stubs)
    assert Decimal(price.oracle_price) == SOL_ORACLE
    assert Decimal(price.mark_price) == Decimal("85.001305")
    # A held price's TWAP is the price itself (funding history uses the same number).
    assert Decimal(price.oracle_twap) == SOL_ORACLE
    assert price.price_source == "snapshot_held"
    assert from_timestamp(price.as_of) == START
    assert price.oracle_age_seconds == 0.0 and price.mark_age_seconds == 0.0


async def test_a_scenario_holds_oracle_and_mark_from_the_current_market_time_on(
    stubs: FeedStubs,
) -> None:
    await at(stubs, START)
    reply = await stubs.replay.SetPriceScenario(
        feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price="150.5"))
    assert reply.price.price_source == "scenario"
    assert Decimal(reply.price.oracle_price) == Decimal("150.5")
    assert Decimal(reply.price.mark_price) == Decimal("150.5")
    await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=3 * 3600))
    assert Decimal((await sol_price(stubs)).oracle_price) == Decimal("150.5")
    table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    sol = next(m for m in table.markets if m.symbol == "SOL-PERP")
    assert Decimal(sol.oracle_price) == Decimal("150.5")
    assert Decimal(sol.open_interest) == Decimal("847926.47") * Decimal("150.5")


async def test_history_uses_the_price_held_when_each_hour_settled(stubs: FeedStubs) -> None:
    await at(stubs, START)
    await stubs.replay.SetPriceScenario(
        feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price="100"))
    await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=2 * 3600))
    await stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest(market="SOL-PERP"))
    await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=2 * 3600))
    records = await history(stubs, START - timedelta(hours=2), START + timedelta(hours=4))
    twaps = {from_timestamp(r.period_start).hour: Decimal(r.oracle_twap) for r in records}
    # 10:00 settled (at 11:00) before the scenario; 11:00 settles at 12:00, when it began;
    # 13:00 settles at 14:00, when it was cleared.
    assert twaps == {
        10: SOL_ORACLE, 11: Decimal(100), 12: Decimal(100), 13: SOL_ORACLE, 14: SOL_ORACLE,
        15: SOL_ORACLE,
    }
    # Asking again later gives the same answer: the timeline is kept, not just the last price.
    await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=3600))
    again = await history(stubs, START - timedelta(hours=2), START + timedelta(hours=4))
    assert [r.oracle_twap for r in again] == [r.oracle_twap for r in records]
    assert (await sol_price(stubs)).price_source == "snapshot_held"


async def test_clearing_with_no_market_clears_every_scenario(stubs: FeedStubs) -> None:
    await at(stubs, START)
    for market in ("SOL-PERP", "BTC-PERP"):
        await stubs.replay.SetPriceScenario(
            feed_pb2.SetPriceScenarioRequest(market=market, oracle_price="42"))
    await stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest())
    for market in ("SOL-PERP", "BTC-PERP"):
        price = (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market=market))).price
        assert price.price_source == "snapshot_held"


@pytest.mark.parametrize("bad_price", ["0", "-3", "NaN", "Infinity", "abc", "", "1e400"])
async def test_a_scenario_price_must_be_a_positive_finite_number(
    stubs: FeedStubs, bad_price: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.replay.SetPriceScenario(
            feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price=bad_price))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "oracle_price" in (refused.value.details() or "")
    assert (await sol_price(stubs)).price_source == "snapshot_held"


async def test_an_unknown_market_is_not_found_and_the_answer_lists_known_markets(
    stubs: FeedStubs,
) -> None:
    for call in (
        stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="DOGE-PERP")),
        stubs.replay.SetPriceScenario(
            feed_pb2.SetPriceScenarioRequest(market="DOGE-PERP", oracle_price="1")),
        stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest(market="DOGE-PERP")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        assert "SOL-PERP" in (refused.value.details() or "")


async def test_an_empty_market_name_is_invalid(stubs: FeedStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market=""))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_prices_sends_updates_until_the_client_cancels(stubs: FeedStubs) -> None:
    call = stubs.feed.StreamPrices(
        feed_pb2.StreamPricesRequest(markets=["SOL-PERP", "ETH-PERP"], interval_seconds=0.01))
    replies = []
    async for reply in call:
        replies.append(reply)
        if len(replies) == 3:
            break
    call.cancel()
    assert [[p.market for p in reply.prices] for reply in replies] == [["SOL-PERP", "ETH-PERP"]] * 3
    assert call.cancelled()
    # The server is unharmed by the cancellation.
    assert (await sol_price(stubs)).market == "SOL-PERP"


async def test_stream_prices_with_no_markets_streams_every_tradable_market(
    stubs: FeedStubs,
) -> None:
    call = stubs.feed.StreamPrices(feed_pb2.StreamPricesRequest(interval_seconds=0.05))
    first = await asyncio.wait_for(call.read(), 5)
    call.cancel()
    table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    tradable = {m.symbol for m in table.markets if m.tradable}
    assert {p.market for p in first.prices} == tradable
    assert "1MBONK-PERP" not in tradable


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (feed_pb2.StreamPricesRequest(markets=["NOPE-PERP"]), grpc.StatusCode.NOT_FOUND),
        (feed_pb2.StreamPricesRequest(interval_seconds=-1), grpc.StatusCode.INVALID_ARGUMENT),
        (feed_pb2.StreamPricesRequest(interval_seconds=float("nan")),
         grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_stream_prices_refuses_bad_requests(
    stubs: FeedStubs, request_: feed_pb2.StreamPricesRequest, code: grpc.StatusCode
) -> None:
    call = stubs.feed.StreamPrices(request_)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call.read()
    assert refused.value.code() == code


async def test_the_clock_and_the_table_carry_the_prices_asked_with_them(stubs: FeedStubs) -> None:
    """One call instead of one per market (issue 12): each price as GetPrice answers it, at the
    clock's moment; a market the feed does not know is left out, not an error."""
    await at(stubs, START)
    await stubs.replay.SetPriceScenario(
        feed_pb2.SetPriceScenarioRequest(market="BTC-PERP", oracle_price="61000"))
    asked = ["BTC-PERP", "NOPE-PERP", "SOL-PERP", "BTC-PERP"]
    alone = {market: (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market=market))).price
             for market in ("BTC-PERP", "SOL-PERP")}
    clock = await stubs.feed.GetClock(feed_pb2.GetClockRequest(with_prices=asked))
    table = await stubs.feed.ListFundingMarkets(
        feed_pb2.ListFundingMarketsRequest(include_untradable=True, with_prices=asked))
    for reply in (clock, table):
        assert [price.market for price in reply.prices] == ["BTC-PERP", "SOL-PERP"]
        assert {price.market: price for price in reply.prices} == alone
    assert from_timestamp(clock.clock.now) == START
    assert Decimal(alone["BTC-PERP"].oracle_price) == Decimal("61000")
    # Asked for none, none come: the table's other callers pay nothing for it.
    assert not (await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())).prices
    assert not (await stubs.feed.GetClock(feed_pb2.GetClockRequest())).prices


async def test_prices_asked_for_too_many_markets_are_refused_at_once(stubs: FeedStubs) -> None:
    too_many = [f"X{number}-PERP" for number in range(MAX_PRICES_PER_CALL + 1)]
    for call in (stubs.feed.GetClock(feed_pb2.GetClockRequest(with_prices=too_many)),
                 stubs.feed.ListFundingMarkets(
                     feed_pb2.ListFundingMarketsRequest(with_prices=too_many))):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"at most {MAX_PRICES_PER_CALL}" in (refused.value.details() or "")
    # A name asked twice counts once.
    reply = await stubs.feed.GetClock(feed_pb2.GetClockRequest(
        with_prices=["SOL-PERP"] * (MAX_PRICES_PER_CALL + 1)))
    assert [price.market for price in reply.prices] == ["SOL-PERP"]
