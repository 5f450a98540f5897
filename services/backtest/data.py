"""What a backtest replays: the same recorded sources as the paper feed, loaded once.

Rates come from the feed's FundingHistory (imported hours, else the recorded daily average of
the day, else the market's last settled rate held), each hour labelled with its source; prices
from the feed's PriceBook (each market's recorded oracle price, held, unless a scenario sets
one from some hour on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.engine.preflight import MarketTerms
from services.feed.daily_funding import load_daily_funding
from services.feed.drift_accounts import PerpMarketSnapshot, load_latest_perp_markets
from services.feed.funding_history import FundingHistory, HourlyRate, RateSource
from services.feed.funding_math import HOUR
from services.feed.history_store import load_imported
from services.feed.market_table import not_tradable_reason
from services.feed.price_book import HeldPrice, PriceBook

# More hours than any window holds (a year is 8,760): `between` takes a limit.
_EVERY_HOUR = 1_000_000


class BacktestDataError(ValueError):
    """The dates or markets asked for hold no data; the message says what there is."""


@dataclass
class BacktestData:
    snapshots: dict[str, PerpMarketSnapshot]
    history: FundingHistory
    prices: PriceBook

    @classmethod
    def load(cls, data_dir: Path, import_dir: Path | None = None) -> BacktestData:
        snapshots = load_latest_perp_markets(data_dir)
        daily = load_daily_funding(data_dir)
        imported = load_imported(import_dir) if import_dir else {}
        history = FundingHistory.build(snapshots, daily, imported)
        prices = PriceBook({symbol: HeldPrice(s.oracle_price, s.mark_twap)
                            for symbol, s in snapshots.items()})
        return cls(snapshots, history, prices)

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.history.window.start, self.history.window.end

    def tradable_markets(self) -> list[str]:
        """Perpetual, active markets with funding running: what a strategy may enter."""
        return sorted(symbol for symbol, snapshot in self.snapshots.items()
                      if not not_tradable_reason(snapshot))

    def recorded_markets(self, start: datetime, end: datetime) -> list[str]:
        """Tradable markets with a recorded or imported rate in [start, end): the others only
        hold their snapshot's last rate, which is no history to decide on."""
        return [market for market in self.tradable_markets()
                if any(hour.source is not RateSource.SNAPSHOT_HELD
                       for hour in self.hours(market, start, end))]

    def hours(self, market: str, start: datetime, end: datetime) -> list[HourlyRate]:
        """Every hour of `market` with start <= period start < end."""
        return self.history.between(market, start, end, _EVERY_HOUR)

    def rate(self, market: str, period_start: datetime) -> HourlyRate:
        hour = self.history.at(market, period_start)
        if hour is None:
            raise BacktestDataError(f"no funding rate for {market} at {period_start.isoformat()}")
        return hour

    def require_window(self, start: datetime, end: datetime) -> None:
        first, last = self.window
        if start >= end:
            raise BacktestDataError(f"--start {start.isoformat()} is not before --end "
                                    f"{end.isoformat()} (--end is exclusive)")
        if start < first or end > last or (end - start) < HOUR:
            raise BacktestDataError(
                f"the recorded data runs from {first.isoformat()} to {last.isoformat()} "
                f"(end exclusive); {start.isoformat()} to {end.isoformat()} is outside it")

    def market_terms(self, now: datetime) -> dict[str, MarketTerms]:
        """What the engine's gates read of the feed's table at `now` (every market, tradable or
        not, with the rate of the hour that settled last, as the replay feed shows it)."""
        return {symbol: MarketTerms(symbol, not not_tradable_reason(snapshot),
                                    self.history.settled(symbol, now)[0].rate_1h)
                for symbol, snapshot in self.snapshots.items()}

    def require_market(self, market: str) -> str:
        symbol = market.strip().upper()
        if symbol not in self.snapshots:
            known = ", ".join(self.tradable_markets())
            raise BacktestDataError(f"no recorded market {market!r}; tradable: {known}")
        reason = not_tradable_reason(self.snapshots[symbol])
        if reason:
            raise BacktestDataError(f"{symbol} is not tradable in the recorded data: {reason}")
        return symbol
