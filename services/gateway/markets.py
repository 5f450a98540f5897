"""Market data from the feed: the table, funding history, and the whitelist of tradable
markets that every position command is checked against (cached, so a burst of commands does
not become a burst of feed calls)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.errors import ErrorCode
from services.common.timeutil import from_timestamp, to_timestamp
from services.gateway.errors import ApiError


def feed_unavailable(timeout: float) -> ApiError:
    return ApiError(503, ErrorCode.FEED_UNAVAILABLE,
                    f"the market data feed did not answer within {timeout:g} s; retry shortly")


class MarketDirectory:
    def __init__(
        self, feed: feed_pb2_grpc.FeedServiceStub, *, timeout: float, cache_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._feed = feed
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._tradable: frozenset[str] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def table(self, include_untradable: bool = False) -> feed_pb2.ListFundingMarketsResponse:
        try:
            reply = await self._feed.ListFundingMarkets(
                feed_pb2.ListFundingMarketsRequest(include_untradable=include_untradable),
                timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise feed_unavailable(self._timeout) from error
        self._remember([m.symbol for m in reply.markets if m.tradable])
        return reply

    async def tradable(self) -> frozenset[str]:
        """The tradable symbols, at most `cache_seconds` old; a stale list beats none when
        the feed is away (the engine checks the market again before trading)."""
        if self._fresh():
            assert self._tradable is not None
            return self._tradable
        async with self._lock:
            if self._fresh():
                assert self._tradable is not None
                return self._tradable
            try:
                await self.table()
            except ApiError:
                if self._tradable is None:
                    raise
            assert self._tradable is not None
            return self._tradable

    async def history(self, market: str, hours: int) -> list[feed_pb2.FundingRecord]:
        try:
            clock = await self._feed.GetClock(feed_pb2.GetClockRequest(), timeout=self._timeout)
            end: datetime = from_timestamp(clock.clock.now)
            reply = await self._feed.GetFundingHistory(
                feed_pb2.GetFundingHistoryRequest(
                    market=market, start=to_timestamp(end - timedelta(hours=hours)),
                    end=to_timestamp(end), limit=hours + 1),
                timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise ApiError(404, ErrorCode.NOT_FOUND,
                               f"no funding history for market {market!r}") from error
            if error.code() == grpc.StatusCode.FAILED_PRECONDITION:
                # The feed answered: this venue publishes none (Velocity has no Data API).
                raise ApiError(404, ErrorCode.NOT_FOUND,
                               f"no funding history for market {market!r}: "
                               f"{error.details()}") from error
            raise feed_unavailable(self._timeout) from error
        return list(reply.records)

    def _fresh(self) -> bool:
        return (self._tradable is not None
                and self._monotonic() - self._fetched_at < self._cache_seconds)

    def _remember(self, symbols: list[str]) -> None:
        self._tradable = frozenset(symbols)
        self._fetched_at = self._monotonic()
