"""FeedService and ReplayControlService over a market source: the replay or live Drift.

Bad input answers a gRPC status with a sentence: INVALID_ARGUMENT, NOT_FOUND for an unknown
market, FAILED_PRECONDITION when the state does not allow the call (every ReplayControl call on
the live source), UNAVAILABLE when the venue cannot be read. Nothing else escapes.
The replay answers synchronously; the live source's answers are awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.decimals import parse_decimal
from services.common.errors import DomainError, ErrorCode
from services.common.metrics import FEED_DATA_AGE, FUNDING_APR
from services.common.timeutil import from_timestamp, is_set, to_timestamp
from services.feed import wire
from services.feed.chain_live import ChainLiveMarket
from services.feed.replay_market import ReplayMarket

log = logging.getLogger(__name__)

DEFAULT_STREAM_INTERVAL_SECONDS = 1.0
MIN_STREAM_INTERVAL_SECONDS = 0.05
MAX_STREAM_INTERVAL_SECONDS = 3600.0
LIVE_REPLAY_CONTROL = (
    "the feed runs on live chain data (FEED_SOURCE=drift, any venue): its clock is wall time "
    "and its prices are on-chain, so replay controls do not apply"
)

_STATUS = {
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_MARKET: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.VENUE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}
# A market in `with_prices` the feed cannot price for one of these is left out of the answer;
# any other failure (the venue unreadable) fails the whole call, as GetPrice would.
_NO_SUCH_PRICE = {ErrorCode.NOT_FOUND, ErrorCode.INVALID_ARGUMENT, ErrorCode.INVALID_MARKET}
# Far above the markets a venue lists (Drift: about 80): 100,000 names took the loop 0.46 s.
MAX_PRICES_PER_CALL = 200

Reply = TypeVar("Reply")
MarketSource = ReplayMarket | ChainLiveMarket


async def _settled(value: Reply | Awaitable[Reply]) -> Reply:
    """The replay answers values, the live source coroutines."""
    if inspect.isawaitable(value):
        return await value
    return value


async def _answer(
    context: grpc.aio.ServicerContext,
    method: str,
    compute: Callable[[], Reply | Awaitable[Reply]],
) -> Reply:
    """Runs `compute`; a DomainError becomes its status, anything else INTERNAL (logged)."""
    try:
        return await _settled(compute())
    except DomainError as error:
        status, message = _STATUS.get(error.code, grpc.StatusCode.INTERNAL), error.message
    except Exception:
        log.error("feed call failed", exc_info=True, extra={"method": method})
        status, message = grpc.StatusCode.INTERNAL, f"{method} failed inside the feed; see its log"
    await context.abort(status, message)
    raise AssertionError("unreachable: abort raises")


def _moment(stamp: Any, field: str) -> datetime | None:
    """An optional Timestamp field; unset means None, out of range is INVALID_ARGUMENT."""
    if not is_set(stamp):
        return None
    try:
        return from_timestamp(stamp)
    except (ValueError, OverflowError):
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT, f"{field} is not a valid time: {stamp.seconds} s"
        ) from None


def stream_interval(requested: float) -> float:
    """0 means the default; otherwise clamped to [0.05 s, 1 h] of wall time."""
    if not math.isfinite(requested) or requested < 0:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"interval_seconds must be a finite number >= 0 (0: default 1 s), found {requested}",
        )
    if requested == 0:
        return DEFAULT_STREAM_INTERVAL_SECONDS
    return min(max(requested, MIN_STREAM_INTERVAL_SECONDS), MAX_STREAM_INTERVAL_SECONDS)


class FeedServicer(feed_pb2_grpc.FeedServiceServicer):
    def __init__(self, market: MarketSource) -> None:
        self._market = market
        # The last answer per include_untradable and the rows it was built from: both sources
        # hand back the same rows list until the table changes, so only as_of, the age and
        # the notes are set per call (issue 12: 1.6 ms -> well under 0.1 ms per call).
        self._answers: dict[bool, tuple[list[Any], feed_pb2.ListFundingMarketsResponse]] = {}

    async def _table(self, include_untradable: bool) -> feed_pb2.ListFundingMarketsResponse:
        table = await _settled(self._market.funding_table(include_untradable))
        FEED_DATA_AGE.set(table.data_age_seconds)
        cached = self._answers.get(include_untradable)
        if cached is None or cached[0] is not table.rows:
            for row in table.rows:
                FUNDING_APR.labels(market=row.symbol).set(float(row.apr))
            built = feed_pb2.ListFundingMarketsResponse(
                markets=[wire.funding_market(row) for row in table.rows],
                stats=wire.market_stats(table.stats),
                source=self._market.source_name,
            )
            # Holding the rows keeps their identity from being reused by another list.
            cached = (table.rows, built)
            self._answers[include_untradable] = cached
        reply = feed_pb2.ListFundingMarketsResponse()
        reply.CopyFrom(cached[1])
        reply.as_of.CopyFrom(to_timestamp(table.as_of))
        reply.data_age_seconds = table.data_age_seconds
        # Notes are per answer: the live source's say how stale its table is.
        reply.model_notes.extend(table.notes)
        return reply

    async def _prices(self, markets: Iterable[str]) -> list[feed_pb2.Price]:
        """The prices of `markets` the feed has, each once, in the order asked."""
        asked = list(dict.fromkeys(markets))
        if len(asked) > MAX_PRICES_PER_CALL:
            raise DomainError(ErrorCode.INVALID_ARGUMENT,
                              f"with_prices names {len(asked)} markets; at most "
                              f"{MAX_PRICES_PER_CALL} per call")
        found = []
        for market in asked:
            try:
                found.append(wire.price(await _settled(self._market.price(market))))
            except DomainError as error:
                if error.code not in _NO_SUCH_PRICE:
                    raise
        return found

    async def ListFundingMarkets(
        self, request: feed_pb2.ListFundingMarketsRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.ListFundingMarketsResponse:
        async def compute() -> feed_pb2.ListFundingMarketsResponse:
            reply = await self._table(request.include_untradable)
            reply.prices.extend(await self._prices(request.with_prices))
            return reply

        return await _answer(context, "ListFundingMarkets", compute)

    async def GetMarketStats(
        self, request: feed_pb2.GetMarketStatsRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetMarketStatsResponse:
        async def compute() -> feed_pb2.GetMarketStatsResponse:
            table = await _settled(self._market.funding_table(include_untradable=False))
            return feed_pb2.GetMarketStatsResponse(
                stats=wire.market_stats(table.stats), as_of=to_timestamp(table.as_of)
            )

        return await _answer(context, "GetMarketStats", compute)

    async def GetPrice(
        self, request: feed_pb2.GetPriceRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetPriceResponse:
        async def compute() -> feed_pb2.GetPriceResponse:
            price = await _settled(self._market.price(request.market))
            return feed_pb2.GetPriceResponse(price=wire.price(price))

        return await _answer(context, "GetPrice", compute)

    async def StreamPrices(
        self, request: feed_pb2.StreamPricesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[feed_pb2.StreamPricesResponse]:
        async def plan() -> tuple[list[str], float]:
            interval = stream_interval(request.interval_seconds)
            if not request.markets:
                return await _settled(self._market.tradable_markets()), interval
            symbols = [
                (await _settled(self._market.require_market(name))).symbol
                for name in request.markets
            ]
            return list(dict.fromkeys(symbols)), interval

        async def prices(markets: list[str]) -> feed_pb2.StreamPricesResponse:
            return feed_pb2.StreamPricesResponse(prices=[
                wire.price(await _settled(self._market.price(symbol))) for symbol in markets
            ])

        markets, interval = await _answer(context, "StreamPrices", plan)
        # Runs until the client cancels: grpc then cancels this generator at its next await.
        while True:
            yield await _answer(context, "StreamPrices", lambda: prices(markets))
            await asyncio.sleep(interval)

    async def GetFundingHistory(
        self, request: feed_pb2.GetFundingHistoryRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetFundingHistoryResponse:
        async def compute() -> feed_pb2.GetFundingHistoryResponse:
            start = _moment(request.start, "start")
            end = _moment(request.end, "end")
            rows = await _settled(
                self._market.funding_history(request.market, start, end, request.limit)
            )
            return feed_pb2.GetFundingHistoryResponse(
                records=[wire.funding_record(row) for row in rows]
            )

        return await _answer(context, "GetFundingHistory", compute)

    async def GetClock(
        self, request: feed_pb2.GetClockRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetClockResponse:
        async def compute() -> feed_pb2.GetClockResponse:
            clock = wire.clock(self._market.clock_state())
            return feed_pb2.GetClockResponse(
                clock=clock, prices=await self._prices(request.with_prices))

        return await _answer(context, "GetClock", compute)


class ReplayControlServicer(feed_pb2_grpc.ReplayControlServiceServicer):
    def __init__(self, market: ReplayMarket) -> None:
        self._market = market

    async def SetClock(
        self, request: feed_pb2.SetClockRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.SetClockResponse:
        def compute() -> feed_pb2.SetClockResponse:
            state = self._market.set_clock(
                now=_moment(request.now, "now"),
                speed=None if request.speed == 0 else request.speed,
                paused=request.paused if request.set_paused else None,
            )
            return feed_pb2.SetClockResponse(clock=wire.clock(state))

        return await _answer(context, "SetClock", compute)

    async def AdvanceClock(
        self, request: feed_pb2.AdvanceClockRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.AdvanceClockResponse:
        return await _answer(
            context, "AdvanceClock",
            lambda: feed_pb2.AdvanceClockResponse(
                clock=wire.clock(self._market.advance_clock(request.seconds))
            ),
        )

    async def SetPriceScenario(
        self, request: feed_pb2.SetPriceScenarioRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.SetPriceScenarioResponse:
        def compute() -> feed_pb2.SetPriceScenarioResponse:
            self._market.require_market(request.market)
            price = parse_decimal(request.oracle_price, "oracle_price", positive=True)
            quote = self._market.set_price_scenario(request.market, price)
            return feed_pb2.SetPriceScenarioResponse(price=wire.price(quote))

        return await _answer(context, "SetPriceScenario", compute)

    async def ClearPriceScenario(
        self, request: feed_pb2.ClearPriceScenarioRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.ClearPriceScenarioResponse:
        def compute() -> feed_pb2.ClearPriceScenarioResponse:
            self._market.clear_price_scenario(request.market)
            return feed_pb2.ClearPriceScenarioResponse()

        return await _answer(context, "ClearPriceScenario", compute)

    async def ReloadHistory(
        self, request: feed_pb2.ReloadHistoryRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.ReloadHistoryResponse:
        return await _answer(
            context, "ReloadHistory",
            lambda: feed_pb2.ReloadHistoryResponse(
                imported_records=self._market.reload_history()
            ),
        )


class LiveReplayControlServicer(feed_pb2_grpc.ReplayControlServiceServicer):
    """ReplayControlService on the live source: every call is FAILED_PRECONDITION."""

    async def _refuse(self, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, LIVE_REPLAY_CONTROL)

    async def SetClock(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._refuse(context)

    async def AdvanceClock(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._refuse(context)

    async def SetPriceScenario(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._refuse(context)

    async def ClearPriceScenario(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._refuse(context)

    async def ReloadHistory(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return await self._refuse(context)


def register(market: MarketSource) -> Callable[[grpc.aio.Server], list[str]]:
    """The `register` hook of run_service: both services on one server."""

    def add(server: grpc.aio.Server) -> list[str]:
        feed_pb2_grpc.add_FeedServiceServicer_to_server(FeedServicer(market), server)
        control: feed_pb2_grpc.ReplayControlServiceServicer = (
            ReplayControlServicer(market) if isinstance(market, ReplayMarket)
            else LiveReplayControlServicer()
        )
        feed_pb2_grpc.add_ReplayControlServiceServicer_to_server(control, server)
        services = feed_pb2.DESCRIPTOR.services_by_name
        return [services["FeedService"].full_name, services["ReplayControlService"].full_name]

    return add

