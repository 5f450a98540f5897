"""Fakes and builders for the executor's tests: an in-memory feed (as the MarketData port and as
a real grpc.aio FeedService on loopback) and a paper driver built in one line."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.clock import ManualClock
from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import from_timestamp, is_set, to_timestamp
from services.executor.market_data import (
    FundingRecord,
    MarketInfo,
    Priced,
    PriceQuote,
    priced_one_by_one,
)
from services.executor.paper_driver import PaperDriver
from services.executor.paper_state import StateFile

START = datetime(2026, 3, 9, 12, tzinfo=UTC)
# SOL-PERP's oracle price in the recorded mainnet account of 2026-03-09.
SOL_PRICE = Decimal("85.016475")


def perp_market(
    symbol: str = "SOL-PERP",
    *,
    tradable: bool = True,
    status: str = "active",
    initial: str = "0.1",
    maintenance: str = "0.05",
    contract_type: str = "perpetual",
) -> MarketInfo:
    return MarketInfo(
        symbol=symbol,
        tradable=tradable,
        status=status,
        contract_type=contract_type,
        margin_ratio_initial=Decimal(initial),
        margin_ratio_maintenance=Decimal(maintenance),
        not_tradable_reason="" if tradable else f"status {status}",
    )


@dataclass
class FakeFeed:
    """The MarketData port in memory: settable clock, prices, markets and hourly funding."""

    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    prices: dict[str, Decimal] = field(default_factory=lambda: {"SOL-PERP": SOL_PRICE})
    market_table: dict[str, MarketInfo] = field(
        default_factory=lambda: {"SOL-PERP": perp_market()}
    )
    funding: dict[tuple[str, datetime], FundingRecord] = field(default_factory=dict)
    down: bool = False
    clock_reads: int = 0
    price_reads: int = 0

    def _check_up(self) -> None:
        if self.down:
            raise DomainError(ErrorCode.FEED_UNAVAILABLE, "the fake feed is down")

    async def now(self) -> datetime:
        self.clock_reads += 1
        self._check_up()
        return self.clock.now()

    async def price(self, market: str) -> PriceQuote:
        self.price_reads += 1
        self._check_up()
        if market not in self.prices:
            raise DomainError(ErrorCode.INVALID_MARKET, f"the feed has no price for {market!r}")
        price = self.prices[market]
        return PriceQuote(market, price, price, self.clock.now())

    async def now_and_prices(self, markets: Collection[str]) -> tuple[datetime, Priced]:
        return await self.now(), await priced_one_by_one(self, markets)

    async def markets(self) -> dict[str, MarketInfo]:
        self._check_up()
        return dict(self.market_table)

    async def funding_records(
        self, market: str, start: datetime, end: datetime
    ) -> list[FundingRecord]:
        self._check_up()
        return sorted(
            (r for (m, t), r in self.funding.items() if m == market and start <= t < end),
            key=lambda r: r.period_start,
        )

    # --- set-up helpers

    def add_market(self, info: MarketInfo, price: Decimal) -> None:
        self.market_table[info.symbol] = info
        self.prices[info.symbol] = price

    def set_rates(
        self,
        market: str,
        first_period: datetime,
        rates: Iterable[Decimal],
        twap: Decimal | None = None,
    ) -> None:
        """One record per hour from `first_period`: rate_1h and the oracle TWAP of that hour."""
        for hour, rate in enumerate(rates):
            start = first_period + timedelta(hours=hour)
            self.funding[(market, start)] = FundingRecord(
                market, start, Decimal(rate), twap if twap is not None else self.prices[market]
            )

    def advance_hours(self, hours: float) -> None:
        self.clock.advance(hours * 3600)


def paper_driver(
    feed: FakeFeed | None = None,
    state_path: Path | None = None,
    **options: object,
) -> PaperDriver:
    return PaperDriver(
        feed or FakeFeed(),
        StateFile(state_path) if state_path else None,
        **options,  # type: ignore[arg-type]
    )


class FakeFeedServicer(feed_pb2_grpc.FeedServiceServicer):
    """A FeedService over a FakeFeed: GetPrice, ListFundingMarkets, GetFundingHistory, GetClock."""

    def __init__(self, feed: FakeFeed) -> None:
        self.feed = feed

    def _price(self, market: str) -> feed_pb2.Price | None:
        price = self.feed.prices.get(market)
        if price is None:
            return None
        return feed_pb2.Price(
            market=market, mark_price=to_wire(price), oracle_price=to_wire(price),
            oracle_twap=to_wire(price), as_of=to_timestamp(self.feed.clock.now()),
            price_source="snapshot_held",
        )

    def _prices(self, markets: Iterable[str]) -> list[feed_pb2.Price]:
        return [price for price in map(self._price, dict.fromkeys(markets)) if price is not None]

    async def GetPrice(
        self, request: feed_pb2.GetPriceRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetPriceResponse:
        price = self._price(request.market)
        if price is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no market {request.market!r}")
        return feed_pb2.GetPriceResponse(price=price)

    async def ListFundingMarkets(
        self, request: feed_pb2.ListFundingMarketsRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.ListFundingMarketsResponse:
        markets = [
            feed_pb2.FundingMarket(
                symbol=info.symbol, tradable=info.tradable, status=info.status,
                contract_type=info.contract_type,
                margin_ratio_initial=to_wire(info.margin_ratio_initial),
                margin_ratio_maintenance=to_wire(info.margin_ratio_maintenance),
                oracle_price=to_wire(self.feed.prices.get(info.symbol)),
                not_tradable_reason=info.not_tradable_reason,
            )
            for info in self.feed.market_table.values()
            if request.include_untradable or info.tradable
        ]
        return feed_pb2.ListFundingMarketsResponse(
            markets=markets, as_of=to_timestamp(self.feed.clock.now()), source="replay",
            prices=self._prices(request.with_prices),
        )

    async def GetFundingHistory(
        self, request: feed_pb2.GetFundingHistoryRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetFundingHistoryResponse:
        start = from_timestamp(request.start) if is_set(request.start) else datetime.min.replace(
            tzinfo=UTC)
        end = from_timestamp(request.end) if is_set(request.end) else self.feed.clock.now()
        records = await self.feed.funding_records(request.market, start, end)
        return feed_pb2.GetFundingHistoryResponse(records=[
            feed_pb2.FundingRecord(
                market=r.market, period_start=to_timestamp(r.period_start),
                rate_1h=to_wire(r.rate_1h), oracle_twap=to_wire(r.oracle_twap),
                source="imported_hourly",
            )
            for r in records
        ])

    async def GetClock(
        self, request: feed_pb2.GetClockRequest, context: grpc.aio.ServicerContext
    ) -> feed_pb2.GetClockResponse:
        return feed_pb2.GetClockResponse(clock=feed_pb2.Clock(
            now=to_timestamp(self.feed.clock.now()), speed=1.0, paused=True, mode="replay"
        ), prices=self._prices(request.with_prices))


@asynccontextmanager
async def serve_fake_feed(feed: FakeFeed) -> AsyncIterator[str]:
    """A real grpc.aio server on 127.0.0.1:0 serving `feed`; answers its address."""
    server = grpc.aio.server()
    feed_pb2_grpc.add_FeedServiceServicer_to_server(FakeFeedServicer(feed), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
