"""Market data the paper venue needs, as a small port: prices, markets, funding, market time.

FeedMarketData reads the feed over gRPC; tests use an in-memory fake with the same methods.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.decimals import from_wire
from services.common.errors import DomainError, ErrorCode
from services.common.market_clock import FeedClock
from services.common.timeutil import from_timestamp, to_timestamp

FEED_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class PriceQuote:
    market: str
    oracle_price: Decimal
    oracle_twap: Decimal
    as_of: datetime | None = None


@dataclass(frozen=True)
class MarketInfo:
    symbol: str
    tradable: bool
    status: str  # "active", "funding_paused", "reduce_only", "settlement", ...
    contract_type: str  # "perpetual" or "prediction"
    margin_ratio_initial: Decimal
    margin_ratio_maintenance: Decimal
    not_tradable_reason: str = ""

    @property
    def is_perpetual(self) -> bool:
        return self.contract_type in ("perpetual", "")


@dataclass(frozen=True)
class FundingRecord:
    market: str
    period_start: datetime
    rate_1h: Decimal
    oracle_twap: Decimal | None


# Each market's price, or the refusal its own price() read would have raised.
Priced = dict[str, PriceQuote | DomainError]


class MarketData(Protocol):
    async def now(self) -> datetime:
        """Market time (the feed's clock)."""
        ...

    async def price(self, market: str) -> PriceQuote: ...

    async def now_and_prices(self, markets: Collection[str]) -> tuple[datetime, Priced]:
        """Market time and these markets' prices at that moment, in one read."""
        ...

    async def markets(self) -> Mapping[str, MarketInfo]:
        """Every market the feed knows, tradable or not, by symbol."""
        ...

    async def funding_records(
        self, market: str, start: datetime, end: datetime
    ) -> list[FundingRecord]:
        """Records with start <= period_start < end, oldest first."""
        ...


async def priced_one_by_one(data: MarketData, markets: Collection[str]) -> Priced:
    """`now_and_prices`' prices for a port whose reads cost nothing (in memory)."""
    priced: Priced = {}
    for market in markets:
        try:
            priced[market] = await data.price(market)
        except DomainError as refusal:
            priced[market] = refusal
    return priced


def feed_unavailable(error: grpc.aio.AioRpcError) -> DomainError:
    return DomainError(
        ErrorCode.FEED_UNAVAILABLE,
        f"the feed did not answer: {error.code().name} {error.details() or ''}".strip(),
    )


class FeedMarketData:
    """The feed over gRPC. The markets table is cached for `markets_ttl_seconds` (wall time)."""

    def __init__(
        self,
        stub: feed_pb2_grpc.FeedServiceStub,
        clock: FeedClock | None = None,
        *,
        markets_ttl_seconds: float = 5.0,
    ) -> None:
        self._stub = stub
        self._clock = clock or FeedClock(stub)
        self._markets_ttl = markets_ttl_seconds
        self._markets: dict[str, MarketInfo] = {}
        self._markets_fetched = float("-inf")

    async def now(self) -> datetime:
        try:
            return await self._clock.now()
        except grpc.aio.AioRpcError as error:
            raise feed_unavailable(error) from error

    async def now_and_prices(self, markets: Collection[str]) -> tuple[datetime, Priced]:
        """One feed call: its clock answer carries the prices."""
        if not markets:
            return await self.now(), {}
        try:
            reply = await self._clock.read(with_prices=markets)
        except grpc.aio.AioRpcError as error:
            raise feed_unavailable(error) from error
        found = {price.market: price for price in reply.prices}
        priced: Priced = {}
        for market in markets:
            try:
                priced[market] = _quote(market, found.get(market))
            except DomainError as refusal:
                priced[market] = refusal
        return from_timestamp(reply.clock.now), priced

    async def price(self, market: str) -> PriceQuote:
        try:
            reply = await self._stub.GetPrice(
                feed_pb2.GetPriceRequest(market=market), timeout=FEED_TIMEOUT_SECONDS
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise DomainError(
                    ErrorCode.INVALID_MARKET, f"the feed has no price for {market!r}"
                ) from error
            raise feed_unavailable(error) from error
        return _quote(market, reply.price)

    async def markets(self) -> Mapping[str, MarketInfo]:
        if time.monotonic() - self._markets_fetched < self._markets_ttl:
            return self._markets
        try:
            reply = await self._stub.ListFundingMarkets(
                feed_pb2.ListFundingMarketsRequest(include_untradable=True),
                timeout=FEED_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            raise feed_unavailable(error) from error
        self._markets = {market.symbol: _market_info(market) for market in reply.markets}
        self._markets_fetched = time.monotonic()
        return self._markets

    async def funding_records(
        self, market: str, start: datetime, end: datetime
    ) -> list[FundingRecord]:
        try:
            reply = await self._stub.GetFundingHistory(
                feed_pb2.GetFundingHistoryRequest(
                    market=market, start=to_timestamp(start), end=to_timestamp(end)
                ),
                timeout=FEED_TIMEOUT_SECONDS,
            )
        except grpc.aio.AioRpcError as error:
            raise feed_unavailable(error) from error
        records = [
            FundingRecord(
                market=record.market or market,
                period_start=from_timestamp(record.period_start),
                rate_1h=from_wire(record.rate_1h),
                oracle_twap=from_wire(record.oracle_twap) if record.oracle_twap else None,
            )
            for record in reply.records
        ]
        return sorted(
            (r for r in records if start <= r.period_start < end), key=lambda r: r.period_start
        )


# Used only when the feed leaves a ratio empty: Drift's SOL-PERP tier (10x initial, 20x
# maintenance), conservative for the paper venue's own 10x leverage limit.
DEFAULT_MARGIN_RATIO_INITIAL = Decimal("0.1")
DEFAULT_MARGIN_RATIO_MAINTENANCE = Decimal("0.05")


def _quote(market: str, price: feed_pb2.Price | None) -> PriceQuote:
    """`price` as the venue uses it; None (the feed left it out) is an unknown market."""
    if price is None:
        raise DomainError(ErrorCode.INVALID_MARKET, f"the feed has no price for {market!r}")
    oracle = from_wire(price.oracle_price)
    if oracle <= 0:
        raise DomainError(
            ErrorCode.FEED_UNAVAILABLE,
            f"the feed answered no usable oracle price for {market}: {price.oracle_price!r}",
        )
    return PriceQuote(
        market=market,
        oracle_price=oracle,
        oracle_twap=from_wire(price.oracle_twap, oracle),
        as_of=from_timestamp(price.as_of) if price.HasField("as_of") else None,
    )


def _market_info(market: feed_pb2.FundingMarket) -> MarketInfo:
    return MarketInfo(
        symbol=market.symbol,
        tradable=market.tradable,
        status=market.status,
        contract_type=market.contract_type,
        margin_ratio_initial=from_wire(market.margin_ratio_initial, DEFAULT_MARGIN_RATIO_INITIAL),
        margin_ratio_maintenance=from_wire(
            market.margin_ratio_maintenance, DEFAULT_MARGIN_RATIO_MAINTENANCE
        ),
        not_tradable_reason=market.not_tradable_reason,
    )
