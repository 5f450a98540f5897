"""The live source (FEED_SOURCE=drift): a Drift-family venue's perp markets over RPC, on wall
time.

- The markets table is read at most once per cache TTL (CACHE_TTL_SEC, 5 minutes) and served
  with its age (data_age_seconds). When a refresh fails after its retries, the last good table
  is served, with its age and a note saying so, and the RPC is not asked again for
  RPC_FAILURE_BACKOFF_SEC; with no table yet, the call fails with UNAVAILABLE.
- Prices re-read only the oracle accounts (one batch call) when older than PRICE_REFRESH_SEC.
  A price is served with the time it was read from the chain (as_of) and its age from then:
  when the RPC fails the last one is served, ever older, so a reader can refuse it.
- Funding history comes from the Data API (data_api_history), cached for the same TTL.

It answers in domain types and raises DomainError; the servicers translate.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.feed.data_api_history import DataApiHistory
from services.feed.drift_accounts import PerpMarketSnapshot
from services.feed.drift_chain import (
    AccountLayoutRefused,
    ChainMarkets,
    ChainReadError,
    DriftChainReader,
    OracleReadings,
)
from services.feed.drift_live_rows import (
    ACCOUNT_ORACLE_SOURCE,
    DRIFT_ROWS,
    ORACLE_SOURCE,
    SECONDS_PER_SLOT,
    LiveMarket,
    age_slots,
    slots_to_seconds,
)
from services.feed.funding_math import apr_percent
from services.feed.live_venue import LiveReader, LiveRows
from services.feed.market_table import listed_by_default, market_stats, sort_by_apr
from services.feed.replay_market import (
    ClockState,
    FundingRecordRow,
    FundingTable,
    settled_history_end,
)

log = logging.getLogger(__name__)

CLOCK_MODE = "wall"
HISTORY_DEFAULT_LIMIT = 10_000
HISTORY_SOURCE = "data_api_hourly"


@dataclass(frozen=True)
class LivePrice:
    market: str
    oracle: Decimal
    mark: Decimal
    oracle_twap: Decimal
    as_of: datetime
    oracle_age_slots: int
    oracle_age_seconds: float
    mark_age_seconds: float
    source: str


@dataclass(frozen=True)
class LiveTable:
    """One successful read of the chain."""

    fetched_at: datetime
    chain: ChainMarkets
    markets: dict[str, LiveMarket]


class ChainLiveMarket:
    """The live source of a Drift-family venue: Drift's by default; `rows` and a reader of the
    venue's chain make it another's (velocity_live.py)."""

    def __init__(
        self,
        reader: DriftChainReader | LiveReader,
        history: DataApiHistory,
        clock: Clock,
        *,
        cache_ttl_seconds: float = 300.0,
        price_refresh_seconds: float = 3.0,
        failure_backoff_seconds: float = 30.0,
        venue_name: str = "drift",
        rows: LiveRows = DRIFT_ROWS,
    ) -> None:
        self._reader = reader
        self._venue_rows = rows
        self._history = history
        self._clock = clock
        self._ttl = cache_ttl_seconds
        self._price_refresh = price_refresh_seconds
        self._backoff = failure_backoff_seconds
        self._venue = venue_name
        self._started = clock.now()
        self._table: LiveTable | None = None
        # Sorted rows and stats per include_untradable, for the table they were built from:
        # rebuilt only when a refresh brings a new table (issue 12).
        self._rows: dict[bool, tuple[LiveTable, FundingTable]] = {}
        self._failure: tuple[datetime, str] | None = None   # last failed refresh and why
        self._oracles: tuple[datetime, OracleReadings] | None = None  # read at, readings
        self._oracles_failed_at: datetime | None = None  # the last failed re-read
        self._table_lock = asyncio.Lock()
        self._price_lock = asyncio.Lock()

    @property
    def source_name(self) -> str:
        return self._venue_rows.source_name

    async def close(self) -> None:
        await self._reader.close()
        await self._history.close()

    # ---- the cached chain read -----------------------------------------------------------

    def _age(self, moment: datetime) -> float:
        return max(0.0, (self._clock.now() - moment).total_seconds())

    def _due(self) -> bool:
        if self._table is not None and self._age(self._table.fetched_at) < self._ttl:
            return False
        # After a failure, the last table is served for the backoff before the RPC is asked.
        return not (self._table is not None and self._failure is not None
                    and self._age(self._failure[0]) < self._backoff)

    async def refresh_if_due(self) -> None:
        async with self._table_lock:
            if self._due():
                await self._refresh()

    async def _current(self) -> LiveTable:
        async with self._table_lock:
            if self._due():
                await self._refresh()
            if self._table is None:
                why = self._failure[1] if self._failure else "not read yet"
                raise DomainError(
                    ErrorCode.VENUE_UNAVAILABLE,
                    f"the {self._venue_rows.venue_label} markets could not be read from the RPC "
                    f"and none were read before: {why}",
                )
            return self._table

    async def _refresh(self) -> None:
        try:
            chain = await self._reader.read_markets()
        except ChainReadError as error:
            self._failure = (self._clock.now(), str(error))
            # A refused layout is a venue/profile mismatch, said in full: no traceback.
            log.error("%s markets not refreshed; serving the last table",
                      self._venue_rows.venue_label,
                      exc_info=None if isinstance(error, AccountLayoutRefused) else error,
                      extra={"table_age_seconds": self._age(self._table.fetched_at)
                             if self._table else None, "error": str(error)})
            return
        now = self._clock.now()
        markets: dict[str, LiveMarket] = {}
        for account in chain.markets:
            index = self._venue_rows.market_index(account)
            source = f"{self._venue} perp market {index} at slot {chain.slot}"
            market = await self._venue_rows.live_market(account, chain, now, source)
            markets[market.snapshot.symbol] = market
        self._table = LiveTable(now, chain, markets)
        self._oracles = (now, chain.oracles)
        self._oracles_failed_at = None
        self._failure = None
        log.info("%s markets read", self._venue_rows.venue_label, extra={
            "markets": len(markets), "missing": len(chain.missing), "slot": chain.slot})

    # ---- markets -------------------------------------------------------------------------

    async def require_market(self, market: str) -> PerpMarketSnapshot:
        symbol = (market or "").strip().upper()
        if not symbol:
            raise DomainError(ErrorCode.INVALID_ARGUMENT, "market is required, e.g. 'SOL-PERP'")
        table = await self._current()
        found = table.markets.get(symbol)
        if found is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"unknown market {market[:40]!r}; markets read from the RPC: "
                f"{', '.join(sorted(table.markets))}",
            )
        return found.snapshot

    async def tradable_markets(self) -> list[str]:
        table = await self.funding_table(include_untradable=False)
        return [row.symbol for row in table.rows if row.tradable]

    async def funding_table(self, include_untradable: bool) -> FundingTable:
        table = await self._current()
        cached = self._rows.get(include_untradable)
        if cached is None or cached[0] is not table:
            rows = sort_by_apr([
                market.row for market in table.markets.values()
                if include_untradable or listed_by_default(market.snapshot)
            ])
            cached = (table, FundingTable(rows, market_stats(rows), table.fetched_at, []))
            self._rows[include_untradable] = cached
        return replace(
            cached[1], notes=self._notes(table), data_age_seconds=self._age(table.fetched_at)
        )

    def _notes(self, table: LiveTable) -> list[str]:
        chain = table.chain
        notes = [
            f"Live {self._venue} perp market accounts read over RPC at slot {chain.slot}, "
            f"{table.fetched_at.isoformat()}, decoded by {self._venue_rows.decoded_by}; the "
            f"table is re-read at most every {self._ttl:g} s (data_age_seconds is its age).",
            *self._venue_rows.notes(chain),
            "Open interest is (long base + |short base|) x the oracle price; 24h volume is the "
            "account's volume24h.",
            f"Oracle ages are counted in slots from the RPC's slot to the oracle's last update "
            f"and shown in seconds at {SECONDS_PER_SLOT} s per slot (Solana's target slot "
            "time), so they are estimates.",
        ]
        if chain.missing:
            notes.append(
                f"{len(chain.missing)} markets of {self._venue_rows.market_list} are not served "
                "by this RPC and are skipped (market indices "
                f"{', '.join(map(str, chain.missing[:20]))}"
                f"{', ...' if len(chain.missing) > 20 else ''})."
            )
        unread = [
            market.snapshot.symbol for market in table.markets.values()
            if not market.oracle.from_oracle_account
        ]
        if unread:
            notes.append(
                f"The oracle of {', '.join(sorted(unread))} could not be read; its price is the "
                f"market account's last oracle price (price_source {ACCOUNT_ORACLE_SOURCE})."
            )
        if self._failure is not None:
            when, why = self._failure
            notes.append(
                f"STALE: the last refresh failed at {when.isoformat()} ({why}); this table was "
                f"read {self._age(table.fetched_at):.0f} s ago."
            )
        return notes

    # ---- prices --------------------------------------------------------------------------

    async def _oracle_readings(self, table: LiveTable) -> tuple[datetime, OracleReadings]:
        """Oracle prices no older than the refresh interval when the RPC answers (one call),
        with the time they were read; after a failure the RPC is asked again only once the
        interval has passed, and the held readings keep their own time."""
        async with self._price_lock:
            held = self._oracles or (table.fetched_at, table.chain.oracles)
            last_try = max(held[0], self._oracles_failed_at or held[0])
            if self._age(last_try) < self._price_refresh:
                return held
            accounts = [market.account for market in table.markets.values()]
            try:
                readings = await self._reader.read_oracles(accounts)
            except ChainReadError as error:
                log.warning("oracle prices not refreshed; serving the last ones", extra={
                    "age_seconds": self._age(held[0]), "error": str(error)})
                self._oracles_failed_at = self._clock.now()
                return held
            self._oracles = (self._clock.now(), readings)
            self._oracles_failed_at = None
            return self._oracles

    async def price(self, market: str) -> LivePrice:
        snapshot = await self.require_market(market)
        table = await self._current()
        read_at, readings = await self._oracle_readings(table)
        live = table.markets[snapshot.symbol]
        oracle = self._venue_rows.live_oracle(live.account, readings)
        rpc_slot = max(readings.slot, table.chain.slot)
        oracle_slots = age_slots(rpc_slot, oracle.last_update_slot)
        mark_slots = age_slots(table.chain.slot, live.snapshot.last_update_slot)
        return LivePrice(
            market=snapshot.symbol,
            oracle=oracle.price,
            mark=live.mark_price,
            # The TWAP funding is computed against: the market's on-chain oracle TWAP.
            oracle_twap=live.snapshot.oracle_twap,
            as_of=read_at,
            oracle_age_slots=oracle_slots,
            # slots at 0.4 s, plus the wall seconds since the reading was taken
            oracle_age_seconds=slots_to_seconds(oracle_slots) + self._age(read_at),
            mark_age_seconds=slots_to_seconds(mark_slots) + self._age(table.fetched_at),
            source=ORACLE_SOURCE if oracle.from_oracle_account else ACCOUNT_ORACLE_SOURCE,
        )

    # ---- funding history -----------------------------------------------------------------

    async def funding_history(
        self, market: str, start: datetime | None, end: datetime | None, limit: int
    ) -> list[FundingRecordRow]:
        snapshot = await self.require_market(market)
        end_at = settled_history_end(start, end, limit, self._clock.now())
        history = await self._history.history(snapshot.symbol)
        rows = [
            FundingRecordRow(
                snapshot.symbol, record.period_start, record.rate_1h,
                record.oracle_twap if record.oracle_twap is not None else Decimal(0),
                apr_percent(record.rate_1h), HISTORY_SOURCE,
            )
            for record in history.records
            if (start is None or record.period_start >= start) and record.period_start < end_at
        ]
        return rows[:limit or HISTORY_DEFAULT_LIMIT]

    # ---- the clock -----------------------------------------------------------------------

    def clock_state(self) -> ClockState:
        """Wall time: speed 1, never paused; start = when the feed started, end = now."""
        now = self._clock.now()
        return ClockState(now, 1.0, False, self._started, now, mode=CLOCK_MODE)
