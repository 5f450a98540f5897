"""The feed stub both the engine and the paper venue read: the test kit's FakeFeed (prices,
markets, a manual market clock) plus the funding history the paper venue settles hours from.
The feed is not faulted: the campaign is about the order path."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

from dne.feed.v1 import feed_pb2
from services.common.clock import ManualClock
from services.common.decimals import to_wire
from services.common.timeutil import from_timestamp, to_timestamp
from tests.kit.engine_fakes import DEFAULT_MARKETS, FakeFeed

HEDGE = "SOL-PERP"
ONE_HOUR = timedelta(hours=1)


class SimFeed(FakeFeed):
    def __init__(self, clock: ManualClock) -> None:
        # Copies: the kit's market specs are module-level objects, and rates change here.
        super().__init__(clock, [dataclasses.replace(spec) for spec in DEFAULT_MARKETS])

    def move_price(self, market: str, percent: Decimal) -> Decimal:
        price = (self.prices[market] * (100 + percent) / 100).quantize(Decimal("0.0001"))
        self.prices[market] = price
        return price

    def set_rate(self, market: str, rate_1h: Decimal) -> None:
        self.markets[market].rate_1h = rate_1h

    async def GetFundingHistory(self, request, context=None, **_):  # type: ignore[no-untyped-def]
        self._check("GetFundingHistory")
        reply = feed_pb2.GetFundingHistoryResponse()
        spec = self.markets.get(request.market)
        if spec is None:
            return reply
        hour = from_timestamp(request.start).replace(minute=0, second=0, microsecond=0)
        end = from_timestamp(request.end)
        price = to_wire(self.prices[request.market])
        while hour < end:
            if hour >= from_timestamp(request.start):
                reply.records.append(feed_pb2.FundingRecord(
                    market=request.market, period_start=to_timestamp(hour),
                    rate_1h=to_wire(spec.rate_1h), oracle_twap=price))
            hour += ONE_HOUR
        return reply
