"""The replay source: recorded Drift data on a replay clock, with price scenarios.

It answers in domain types and raises DomainError for bad input; the servicers translate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from services.common.clock import ReplayClock
from services.common.errors import DomainError, ErrorCode
from services.feed.daily_funding import DailyFundingError, load_daily_funding
from services.feed.drift_accounts import PerpMarketSnapshot, SnapshotError, load_latest_perp_markets
from services.feed.funding_history import FundingHistory, HourlyRate, settlement_price
from services.feed.funding_math import HOUR, apr_percent, last_settled_period
from services.feed.history_store import ImportedHistoryError, load_imported
from services.feed.market_table import (
    FundingMarketRow,
    MarketStatsRow,
    funding_market_row,
    listed_by_default,
    market_stats,
    sort_by_apr,
)
from services.feed.price_book import HeldPrice, PriceBook, PriceQuote
from services.feed.replay_state import ReplayStateFile
from services.feed.settings import MAX_REPLAY_SPEED

log = logging.getLogger(__name__)
NO_LEAD_IN = timedelta(0)

SOURCE_NAME = "replay"
HISTORY_DEFAULT_LIMIT = 10_000


class FeedStartError(RuntimeError):
    """The recorded or imported data cannot be loaded, or the settings do not fit it."""


@dataclass(frozen=True)
class ClockState:
    now: datetime
    speed: float
    paused: bool
    start: datetime
    end: datetime
    mode: str = SOURCE_NAME


@dataclass(frozen=True)
class FundingTable:
    rows: list[FundingMarketRow]
    stats: MarketStatsRow
    as_of: datetime
    notes: list[str]
    # wall seconds since the data was fetched: 0 on the replay, which computes it when asked
    data_age_seconds: float = 0.0


@dataclass(frozen=True)
class MarketPrice:
    market: str
    quote: PriceQuote
    as_of: datetime


@dataclass(frozen=True)
class FundingRecordRow:
    market: str
    period_start: datetime
    rate_1h: Decimal
    oracle_twap: Decimal
    apr: Decimal
    source: str


def settled_history_end(start: datetime | None, end: datetime | None, limit: int,
                        now: datetime) -> datetime:
    """A funding history request checked (INVALID_ARGUMENT), and where its rows end: before
    `end`, and only settled hours (period_start + 1 h <= now)."""
    if start is not None and end is not None and start > end:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"start {start.isoformat()} is after end {end.isoformat()}",
        )
    if limit < 0:
        raise DomainError(ErrorCode.INVALID_ARGUMENT, f"limit must be >= 0, found {limit}")
    settled_before = last_settled_period(now) + HOUR
    return settled_before if end is None else min(end, settled_before)


class ReplayMarket:
    def __init__(
        self,
        snapshots: Mapping[str, PerpMarketSnapshot],
        daily: Mapping[str, Mapping[date, Decimal]],
        history: FundingHistory,
        clock: ReplayClock,
        import_dir: Path,
        state_file: ReplayStateFile | None = None,
    ) -> None:
        self._snapshots = dict(snapshots)
        self._daily = daily
        self._history = history
        self._clock = clock
        self._import_dir = import_dir
        self._prices = PriceBook({
            symbol: HeldPrice(s.oracle_price, s.mark_twap)
            for symbol, s in self._snapshots.items()
        })
        self._state_file = state_file or ReplayStateFile("")
        # The table changes only when a funding hour settles, a scenario entry begins or the
        # data changes (scenario set or cleared, history reloaded): `_data_version` counts the
        # last kind, and the cache key holds all three (issue 12: 1.6 ms per rebuild).
        self._data_version = 0
        self._tables: dict[bool, tuple[Hashable, FundingTable]] = {}

    @classmethod
    def load(
        cls,
        data_dir: Path,
        import_dir: Path,
        *,
        start: datetime | None = None,
        lead_in: timedelta = NO_LEAD_IN,
        speed: float = 60.0,
        paused: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        state_file: ReplayStateFile | None = None,
    ) -> ReplayMarket:
        """Reads the recorded accounts, the daily averages and the imported history."""
        try:
            snapshots = load_latest_perp_markets(data_dir)
            daily = load_daily_funding(data_dir)
            imported = load_imported(import_dir)
            history = FundingHistory.build(snapshots, daily, imported)
        except (SnapshotError, DailyFundingError, ImportedHistoryError, ValueError) as error:
            raise FeedStartError(str(error)) from error
        window = history.window
        # Unset, the replay starts `lead_in` into the data: its charts open with that history.
        begin = start or min(window.start + lead_in, window.end)
        if not window.start <= begin <= window.end:
            raise FeedStartError(
                f"REPLAY_START {begin.isoformat()} is outside the recorded data, which runs "
                f"from {window.start.isoformat()} to {window.end.isoformat()}"
            )
        clock = ReplayClock(begin, speed, window.end, paused=paused, monotonic=monotonic)
        market = cls(snapshots, daily, history, clock, import_dir, state_file)
        market._resume_saved_state()
        log.info(
            "replay data loaded",
            extra={
                "markets": len(snapshots), "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(), "imported_hours": history.imported_count(),
            },
        )
        return market

    # ---- markets -------------------------------------------------------------------------

    @property
    def source_name(self) -> str:
        return SOURCE_NAME

    def known_markets(self) -> list[str]:
        return sorted(self._snapshots)

    def require_market(self, market: str) -> PerpMarketSnapshot:
        symbol = (market or "").strip().upper()
        if not symbol:
            raise DomainError(ErrorCode.INVALID_ARGUMENT, "market is required, e.g. 'SOL-PERP'")
        snapshot = self._snapshots.get(symbol)
        if snapshot is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"unknown market {market[:40]!r}; known markets: {', '.join(self.known_markets())}",
            )
        return snapshot

    def tradable_markets(self) -> list[str]:
        table = self.funding_table(include_untradable=False)
        return [row.symbol for row in table.rows if row.tradable]

    # ---- the table -----------------------------------------------------------------------

    def _table_key(self, now: datetime) -> Hashable:
        return (last_settled_period(now), self._data_version, self._prices.epoch(now))

    def funding_table(self, include_untradable: bool) -> FundingTable:
        """The table at market time now; rows, stats and notes are reused until a funding hour
        settles, the clock jumps to another hour or scenario entry, or the data changes. The
        rows list is shared between calls: callers read it, never change it."""
        now = self._clock.now()
        key = self._table_key(now)
        cached = self._tables.get(include_untradable)
        if cached is not None and cached[0] == key:
            return replace(cached[1], as_of=now)
        table = self.build_table(include_untradable, now)
        self._tables[include_untradable] = (key, table)
        return table

    def _changed(self) -> None:
        self._data_version += 1
        self._tables.clear()

    def build_table(self, include_untradable: bool, now: datetime) -> FundingTable:
        """The table at `now` computed afresh, past the cache."""
        rows: list[FundingMarketRow] = []
        all_settled = True
        for symbol, snapshot in self._snapshots.items():
            if not include_untradable and not listed_by_default(snapshot):
                continue
            rate, settled = self._history.settled(symbol, now)
            all_settled = all_settled and settled
            rows.append(funding_market_row(snapshot, rate, self._prices.quote(symbol, now)))
        rows = sort_by_apr(rows)
        return FundingTable(rows, market_stats(rows), now, self._model_notes(all_settled))

    def _model_notes(self, settled: bool) -> list[str]:
        notes: list[str] = []
        if self._daily:
            days = [day for series in self._daily.values() for day in series]
            notes.append(
                f"Funding of {', '.join(sorted(self._daily))} is Drift's recorded daily average "
                f"of the hourly rate ({min(days).isoformat()} to {max(days).isoformat()}), "
                "applied to every hour of its day (rate_source recorded_daily_average): no "
                "public hourly history was available."
            )
        recorded = [s.last_funding_at.date() for s in self._snapshots.values()]
        notes.append(
            "Hours without a recorded or imported rate hold the last hourly rate settled in the "
            "market's recorded account (rate_source snapshot_held); those accounts were "
            f"recorded between {min(recorded).isoformat()} and {max(recorded).isoformat()}."
        )
        imported = self._history.imported_count()
        if imported:
            notes.append(
                f"{imported} hours of imported Drift hourly history replace the modeled hours "
                "they cover (rate_source imported_hourly)."
            )
        else:
            notes.append(
                "No hourly history is imported: `dne data import FILE` adds Drift Data API "
                "fundingRates, which then replace the modeled hours (rate_source imported_hourly)."
            )
        notes.append(
            "Oracle and mark prices are each market's recorded account values, held constant "
            "(price_source snapshot_held) unless a price scenario sets them (price_source "
            "scenario): there is no recorded price path."
        )
        notes.append(
            "Open interest, 24h volume, status and margin ratios are the recorded account "
            "values and do not change with the replay clock."
        )
        notes.append(
            "rate_1h is the funding hour that settled last on the market clock "
            "(rate_period_start); rate_8h = 8 x rate_1h; apr = rate_1h x 24 x 365 x 100."
        )
        if not settled:
            notes.append(
                "No funding hour has settled yet at this market time: rate_1h shows the first "
                "recorded hour, which settles one hour after the start of the data."
            )
        scenarios = self._prices.scenario_markets()
        if scenarios:
            notes.append(f"Price scenarios have been set on: {', '.join(scenarios)}.")
        return notes

    # ---- prices --------------------------------------------------------------------------

    def price(self, market: str) -> MarketPrice:
        snapshot = self.require_market(market)
        now = self._clock.now()
        return MarketPrice(snapshot.symbol, self._prices.quote(snapshot.symbol, now), now)

    def set_price_scenario(self, market: str, oracle_price: Decimal) -> MarketPrice:
        snapshot = self.require_market(market)
        if not oracle_price.is_finite() or oracle_price <= 0:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"oracle_price must be a positive number, found {oracle_price}",
            )
        now = self._clock.now()
        self._prices.set_scenario(snapshot.symbol, now, oracle_price)
        self._changed()
        self._save_state()
        log.info("price scenario set", extra={
            "market": snapshot.symbol, "price": str(oracle_price), "from": now.isoformat()})
        return self.price(snapshot.symbol)

    def clear_price_scenario(self, market: str) -> None:
        """Back to the recorded price from now on; an empty market clears every scenario."""
        now = self._clock.now()
        symbols = [self.require_market(market).symbol] if market.strip() else self.known_markets()
        for symbol in symbols:
            self._prices.clear_scenario(symbol, now)
        self._changed()
        self._save_state()

    # ---- funding history -----------------------------------------------------------------

    def funding_history(
        self, market: str, start: datetime | None, end: datetime | None, limit: int
    ) -> list[FundingRecordRow]:
        snapshot = self.require_market(market)
        end_at = settled_history_end(start, end, limit, self._clock.now())
        start_at = start or self._history.window.start
        hours = self._history.between(
            snapshot.symbol, start_at, end_at, limit or HISTORY_DEFAULT_LIMIT
        )
        return [self._funding_record(snapshot.symbol, hour) for hour in hours]

    def _funding_record(self, symbol: str, hour: HourlyRate) -> FundingRecordRow:
        return FundingRecordRow(
            symbol, hour.period_start, hour.rate_1h,
            settlement_price(symbol, hour, self._prices), apr_percent(hour.rate_1h),
            str(hour.source),
        )

    def reload_history(self) -> int:
        """Re-reads DNE_IMPORT_DIR; on a bad file the current history stays in place."""
        try:
            imported = load_imported(self._import_dir)
            history = FundingHistory.build(self._snapshots, self._daily, imported)
        except (ImportedHistoryError, ValueError) as error:
            raise DomainError(
                ErrorCode.FAILED_PRECONDITION,
                f"imported history not reloaded, the previous one stays in use: {error}",
            ) from error
        self._history = history
        self._clock.end = history.window.end
        self._changed()
        count = history.imported_count()
        log.info("imported history reloaded", extra={"imported_hours": count})
        return count

    # ---- the clock -----------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock.now()

    def clock_state(self) -> ClockState:
        window = self._history.window
        return ClockState(
            self._clock.now(), self._clock.speed, self._clock.paused, window.start, window.end
        )

    def _resume_saved_state(self) -> None:
        """After a restart the clock goes on from where it stood (moved on by the time the feed
        was down) and the scenarios hold again; the first start writes the state down."""
        try:
            saved = self._state_file.load()
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise FeedStartError(f"the replay state at {self._state_file.path} is unreadable "
                                 f"({error}); move it away to start the replay afresh") from error
        if saved is not None:
            window = self._history.window
            now = min(max(saved.market_time_at(self._state_file.wall_clock()), window.start),
                      window.end)
            self._clock.set(now=now, speed=saved.speed, paused=saved.paused)
            self._prices.restore(saved.scenarios)
            self._changed()
            log.info("replay resumed from its saved state", extra={
                "now": now.isoformat(), "speed": saved.speed, "paused": saved.paused,
                "scenarios": len(saved.scenarios)})
        self._save_state()

    def _save_state(self) -> None:
        self._state_file.save(self._clock.now(), self._clock.speed, self._clock.paused,
                              self._prices.timelines())

    def set_clock(
        self, *, now: datetime | None, speed: float | None, paused: bool | None
    ) -> ClockState:
        window = self._history.window
        if now is not None and not window.start <= now <= window.end:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"now {now.isoformat()} is outside the recorded data "
                f"({window.start.isoformat()} to {window.end.isoformat()})",
            )
        if speed is not None and not (math.isfinite(speed) and 0 < speed <= MAX_REPLAY_SPEED):
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"speed must be a number of market seconds per wall second in "
                f"(0, {MAX_REPLAY_SPEED:g}], found {speed}",
            )
        self._clock.set(now=now, speed=speed, paused=paused)
        self._save_state()
        log.info("market clock set", extra={
            "now": self._clock.now().isoformat(), "speed": self._clock.speed,
            "paused": self._clock.paused})
        return self.clock_state()

    def advance_clock(self, seconds: float) -> ClockState:
        if not math.isfinite(seconds) or seconds < 0:
            raise DomainError(
                ErrorCode.INVALID_ARGUMENT,
                f"seconds must be a finite number >= 0 (the clock only moves forward), "
                f"found {seconds}",
            )
        # Beyond the end the clock holds; capping first keeps the date arithmetic in range.
        remaining = (self._history.window.end - self._clock.now()).total_seconds()
        self._clock.advance(min(seconds, max(remaining, 0.0)))
        self._save_state()
        return self.clock_state()
