"""Calls to the feed and the executor's read side, with transport errors turned into refusals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal

import grpc

from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.decimals import from_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.common.venue_wire import account_state_of
from services.engine.account import AccountView
from services.engine.preflight import MarketTerms, VenueStatus

log = logging.getLogger(__name__)
CALL_TIMEOUT_SEC = 5.0


def _venue_status(reply: executor_pb2.GetVenueStatusResponse, measured_ms: float) -> VenueStatus:
    return VenueStatus(reply.venue, reply.account, reply.connected, reply.trading_halted,
                       reply.halt_reason, reply.latency_ms, measured_ms)


class Upstream:
    def __init__(
        self,
        feed: feed_pb2_grpc.FeedServiceStub,
        executor: executor_pb2_grpc.ExecutorServiceStub,
        monotonic: Callable[[], float] = time.perf_counter,
        max_price_age_sec: float = float("inf"),
    ) -> None:
        self.feed = feed
        self.executor = executor
        self._monotonic = monotonic
        self._max_price_age = max_price_age_sec

    async def price(self, market: str) -> Decimal:
        """The oracle price fills and PnL use."""
        try:
            reply = await self.feed.GetPrice(
                feed_pb2.GetPriceRequest(market=market), timeout=CALL_TIMEOUT_SEC
            )
        except grpc.RpcError as error:
            if _code(error) in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise DomainError(ErrorCode.INVALID_MARKET,
                                  f"the feed has no price for {market!r}") from None
            raise _unavailable(ErrorCode.FEED_UNAVAILABLE, "feed", error) from None
        return self.checked_price(market, reply.price)

    def checked_price(self, market: str, price: feed_pb2.Price | None) -> Decimal:
        """The oracle price of the feed's `price` answer, refused when it cannot be traded
        on; None (the feed left the market out) is a market the feed does not price."""
        if price is None:
            raise DomainError(ErrorCode.INVALID_MARKET, f"the feed has no price for {market!r}")
        oracle = from_wire(price.oracle_price)
        if oracle <= 0:
            raise DomainError(ErrorCode.FEED_UNAVAILABLE,
                              f"the feed answered no usable price for {market}")
        age = price.oracle_age_seconds
        if age > self._max_price_age:
            # A feed that lost its RPC keeps its last price: sizing and limits on it would
            # trade at a price the market left long ago.
            raise DomainError(ErrorCode.PRICE_STALE,
                              f"the {market} price is {age:.1f} s old (limit "
                              f"{self._max_price_age:g} s); no trade until the feed is fresh",
                              age_seconds=f"{age:.1f}")
        return oracle

    async def markets(self) -> dict[str, MarketTerms]:
        """Every market the feed knows, tradable or not, by symbol."""
        markets, _ = await self.markets_with_prices([])
        return markets

    async def markets_with_prices(
        self, priced: Collection[str]
    ) -> tuple[dict[str, MarketTerms], dict[str, feed_pb2.Price]]:
        """Every market the feed knows, by symbol, and in the same answer the prices of
        `priced` it has (by market; see checked_price)."""
        try:
            reply = await self.feed.ListFundingMarkets(
                feed_pb2.ListFundingMarketsRequest(include_untradable=True, with_prices=priced),
                timeout=CALL_TIMEOUT_SEC,
            )
        except grpc.RpcError as error:
            raise _unavailable(ErrorCode.FEED_UNAVAILABLE, "feed", error) from None
        return ({market.symbol: MarketTerms(market.symbol, market.tradable,
                                            from_wire(market.rate_1h))
                 for market in reply.markets},
                {price.market: price for price in reply.prices})

    async def venue_status(self) -> VenueStatus:
        started = self._monotonic()
        try:
            reply = await self.executor.GetVenueStatus(
                executor_pb2.GetVenueStatusRequest(), timeout=CALL_TIMEOUT_SEC
            )
        except grpc.RpcError as error:
            raise _unavailable(ErrorCode.VENUE_UNAVAILABLE, "executor", error) from None
        return _venue_status(reply, (self._monotonic() - started) * 1000)

    async def account(self, sub_account: int, funding_since: datetime | None) -> AccountView:
        reply = await self._account_state(executor_pb2.GetAccountStateRequest(
            sub_account=sub_account), funding_since)
        return AccountView(account_state_of(reply.state))

    async def venue_and_account(self, sub_account: int) -> tuple[VenueStatus, AccountView]:
        """Both in one call, read at the same moment (the gates' reads before a trade); the
        measured round trip is this call's."""
        started = self._monotonic()
        reply = await self._account_state(executor_pb2.GetAccountStateRequest(
            sub_account=sub_account, with_venue_status=True), None)
        venue = _venue_status(reply.venue, (self._monotonic() - started) * 1000)
        return venue, AccountView(account_state_of(reply.state))

    async def _account_state(
        self, request: executor_pb2.GetAccountStateRequest, funding_since: datetime | None
    ) -> executor_pb2.GetAccountStateResponse:
        if funding_since is not None:
            request.funding_since.CopyFrom(to_timestamp(funding_since))
        try:
            return await self.executor.GetAccountState(request, timeout=CALL_TIMEOUT_SEC)
        except grpc.RpcError as error:
            raise _unavailable(ErrorCode.VENUE_UNAVAILABLE, "executor", error) from None


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    return code() if callable(code) else None


def _unavailable(code: ErrorCode, service: str, error: grpc.RpcError) -> DomainError:
    status = _code(error)
    log.warning("%s call failed", service, extra={"grpc_status": str(status)})
    return DomainError(code, f"the {service} is unreachable ({status.name if status else error})")
