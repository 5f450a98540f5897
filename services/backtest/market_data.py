"""The paper venue's MarketData port over the recorded data and a simulated clock: the venue's
own fills, fees, margin and hourly funding run in process, with no feed and no sleeps."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from services.backtest.data import BacktestData
from services.common.errors import DomainError, ErrorCode
from services.executor.market_data import (
    FundingRecord,
    MarketInfo,
    Priced,
    PriceQuote,
    priced_one_by_one,
)
from services.feed.funding_history import settlement_price
from services.feed.market_table import not_tradable_reason


class SimulatedClock:
    """Market time, moved only by the backtest."""

    def __init__(self, start: datetime) -> None:
        self.now = start


class BacktestMarketData:
    def __init__(self, data: BacktestData, clock: SimulatedClock) -> None:
        self._data = data
        self._clock = clock
        self._markets = {symbol: _market_info(symbol, data) for symbol in data.snapshots}

    async def now(self) -> datetime:
        return self._clock.now

    async def price(self, market: str) -> PriceQuote:
        if market not in self._data.snapshots:
            raise DomainError(ErrorCode.INVALID_MARKET, f"no recorded market {market!r}")
        quote = self._data.prices.quote(market, self._clock.now)
        return PriceQuote(market, quote.oracle, quote.oracle_twap, self._clock.now)

    async def now_and_prices(self, markets: Collection[str]) -> tuple[datetime, Priced]:
        return self._clock.now, await priced_one_by_one(self, markets)

    async def markets(self) -> Mapping[str, MarketInfo]:
        return self._markets

    async def funding_records(
        self, market: str, start: datetime, end: datetime
    ) -> list[FundingRecord]:
        # As the replay feed answers them.
        return [
            FundingRecord(market, hour.period_start, hour.rate_1h,
                          settlement_price(market, hour, self._data.prices))
            for hour in self._data.hours(market, start, end)
        ]


def _market_info(symbol: str, data: BacktestData) -> MarketInfo:
    snapshot = data.snapshots[symbol]
    reason = not_tradable_reason(snapshot)
    return MarketInfo(
        symbol=symbol, tradable=not reason, status=snapshot.status,
        contract_type=snapshot.contract_type,
        margin_ratio_initial=snapshot.margin_ratio_initial,
        margin_ratio_maintenance=snapshot.margin_ratio_maintenance,
        not_tradable_reason=reason,
    )
