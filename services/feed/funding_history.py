"""The hourly funding series the replay serves, built openly from what was recorded.

Drift publishes no hourly history that could be shipped here, so each hour gets, in order:
an imported hourly record (`imported_hourly`), else the recorded daily average of its day
(`recorded_daily_average`), else the market's last settled rate from its recorded account,
held (`snapshot_held`). Every market has a record for every hour of the data window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from services.feed.drift_accounts import PerpMarketSnapshot
from services.feed.funding_math import HOUR, ceil_to_hour, last_settled_period
from services.feed.history_store import StoredFundingRecord
from services.feed.price_book import PriceBook

DAY = timedelta(days=1)


class RateSource(StrEnum):
    IMPORTED_HOURLY = "imported_hourly"
    RECORDED_DAILY_AVERAGE = "recorded_daily_average"
    SNAPSHOT_HELD = "snapshot_held"
    ONCHAIN_LAST_SETTLED = "onchain_last_settled"   # live: the account's last settled rate


@dataclass(frozen=True)
class HourlyRate:
    period_start: datetime
    rate_1h: Decimal
    source: RateSource
    recorded_oracle_twap: Decimal | None = None   # only imported hours carry one


@dataclass(frozen=True)
class DataWindow:
    """[start, end): the hours the replay has rates for; the clock holds at `end`."""

    start: datetime
    end: datetime

    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def data_window(
    daily: Mapping[str, Mapping[date, Decimal]],
    imported: Mapping[str, Sequence[StoredFundingRecord]],
) -> DataWindow:
    starts: list[datetime] = []
    ends: list[datetime] = []
    for days in daily.values():
        starts.append(_day_start(min(days)))
        ends.append(_day_start(max(days)) + DAY)
    for records in imported.values():
        if records:
            starts.append(records[0].period_start)
            ends.append(records[-1].period_start + HOUR)
    if not starts:
        raise ValueError("no funding data: neither daily averages nor imported history")
    return DataWindow(min(starts), max(ends))


class FundingHistory:
    """Per market, one HourlyRate per hour of the window, found by arithmetic on the hour."""

    def __init__(self, window: DataWindow, series: dict[str, list[HourlyRate]]) -> None:
        self.window = window
        self._series = series

    @classmethod
    def build(
        cls,
        snapshots: Mapping[str, PerpMarketSnapshot],
        daily: Mapping[str, Mapping[date, Decimal]],
        imported: Mapping[str, Sequence[StoredFundingRecord]],
    ) -> FundingHistory:
        window = data_window(daily, imported)
        series: dict[str, list[HourlyRate]] = {}
        for symbol, snapshot in snapshots.items():
            days = daily.get(symbol, {})
            overrides = {record.period_start: record for record in imported.get(symbol, ())}
            hours: list[HourlyRate] = []
            for offset in range(window.hours()):
                start = window.start + offset * HOUR
                hours.append(_rate_for_hour(start, snapshot, days, overrides))
            series[symbol] = hours
        return cls(window, series)

    @property
    def markets(self) -> list[str]:
        return sorted(self._series)

    def imported_count(self) -> int:
        return sum(
            1 for hours in self._series.values() for hour in hours
            if hour.source is RateSource.IMPORTED_HOURLY
        )

    def at(self, market: str, period_start: datetime) -> HourlyRate | None:
        hours = self._series.get(market)
        if hours is None or period_start < self.window.start or period_start >= self.window.end:
            return None
        return hours[(period_start - self.window.start) // HOUR]

    def first(self, market: str) -> HourlyRate | None:
        hours = self._series.get(market)
        return hours[0] if hours else None

    def settled(self, market: str, now: datetime) -> tuple[HourlyRate, bool]:
        """The rate the market table shows at `now`: the last settled hour's; before any hour
        settled, the first recorded hour (and False)."""
        rate = self.at(market, last_settled_period(now))
        if rate is not None:
            return rate, True
        first = self.first(market)
        assert first is not None, f"{market} has no funding series"
        return first, False

    def between(
        self, market: str, start: datetime, end: datetime, limit: int
    ) -> list[HourlyRate]:
        """Hours with start <= period_start < end, oldest first, at most `limit`."""
        hours = self._series.get(market, [])
        first = max(ceil_to_hour(start), self.window.start)
        if first >= end or first >= self.window.end:
            return []
        begin = (first - self.window.start) // HOUR
        # Hours that start before `end`: a partial hour still counts, its start is inside.
        span = min(end, self.window.end) - self.window.start
        before_end = span // HOUR + (1 if span % HOUR else 0)
        stop = min(before_end, begin + limit, len(hours))
        return hours[begin:stop]


def _rate_for_hour(
    start: datetime,
    snapshot: PerpMarketSnapshot,
    days: Mapping[date, Decimal],
    overrides: Mapping[datetime, StoredFundingRecord],
) -> HourlyRate:
    imported = overrides.get(start)
    if imported is not None:
        return HourlyRate(start, imported.rate_1h, RateSource.IMPORTED_HOURLY,
                          imported.oracle_twap)
    day_rate = days.get(start.date())
    if day_rate is not None:
        return HourlyRate(start, day_rate, RateSource.RECORDED_DAILY_AVERAGE)
    return HourlyRate(start, snapshot.hourly_rate, RateSource.SNAPSHOT_HELD)


def settlement_price(market: str, hour: HourlyRate, prices: PriceBook) -> Decimal:
    """The price an hour's payment uses: Drift's own recorded oracle TWAP for an imported hour,
    else the oracle price held when the hour settles (its end). The replay feed and the
    backtester both pay with it."""
    if hour.recorded_oracle_twap is not None:
        return hour.recorded_oracle_twap
    return prices.quote(market, hour.period_start + HOUR).oracle
