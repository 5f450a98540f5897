"""Oracle and mark prices on the replay: each market's recorded price, held, unless a scenario
sets it from some market time on.

A scenario is kept as a timeline of (from, price) entries per market, so the price at any past
time is deterministic: funding history, settled later, uses the price that held at each hour.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class PriceSource(StrEnum):
    SNAPSHOT_HELD = "snapshot_held"
    SCENARIO = "scenario"
    ONCHAIN = "onchain"     # live: decoded from the oracle account


@dataclass(frozen=True)
class HeldPrice:
    """A market's recorded prices: what the replay holds when no scenario applies."""

    oracle: Decimal
    mark: Decimal


@dataclass(frozen=True)
class PriceQuote:
    oracle: Decimal
    mark: Decimal
    source: PriceSource
    since: datetime | None      # when the scenario began; None for the recorded price

    @property
    def oracle_twap(self) -> Decimal:
        """The replay holds the oracle price constant, so its TWAP is that price; funding
        history uses the same number, so payments and prices agree."""
        return self.oracle


class PriceBook:
    def __init__(self, recorded: Mapping[str, HeldPrice]) -> None:
        self._recorded = dict(recorded)
        # market -> sorted entry times, and the price from each time on (None: recorded again).
        self._times: dict[str, list[datetime]] = {}
        self._prices: dict[str, list[Decimal | None]] = {}

    def __contains__(self, market: str) -> bool:
        return market in self._recorded

    def set_scenario(self, market: str, at: datetime, oracle_price: Decimal) -> None:
        self._append(market, at, oracle_price)

    def clear_scenario(self, market: str, at: datetime) -> None:
        if self._times.get(market):
            self._append(market, at, None)

    def _append(self, market: str, at: datetime, price: Decimal | None) -> None:
        """A new entry rewrites the timeline from `at` on: entries after it are dropped
        (after SetClock moved the market backwards, the future is written anew)."""
        times = self._times.setdefault(market, [])
        prices = self._prices.setdefault(market, [])
        keep = bisect.bisect_left(times, at)
        del times[keep:], prices[keep:]
        times.append(at)
        prices.append(price)

    def timelines(self) -> dict[str, list[tuple[datetime, Decimal | None]]]:
        """Every market's scenario entries, for the replay's state file."""
        return {market: list(zip(self._times[market], self._prices[market], strict=True))
                for market in self._times if self._times[market]}

    def restore(self, timelines: Mapping[str, list[tuple[datetime, Decimal | None]]]) -> None:
        """Takes back the entries `timelines()` gave, for markets this book knows."""
        for market, timeline in timelines.items():
            if market in self._recorded:
                self._times[market] = [at for at, _ in timeline]
                self._prices[market] = [price for _, price in timeline]

    def scenario_markets(self) -> list[str]:
        return sorted(market for market, prices in self._prices.items() if prices)

    def epoch(self, at: datetime) -> tuple[int, ...]:
        """Which scenario entry holds at `at` in each timeline: quotes at two times with the
        same epoch are equal (for a book whose entries did not change in between)."""
        return tuple(bisect.bisect_right(self._times[market], at) for market in self._times)

    def quote(self, market: str, at: datetime) -> PriceQuote:
        recorded = self._recorded[market]
        times = self._times.get(market, [])
        index = bisect.bisect_right(times, at) - 1
        if index >= 0:
            price = self._prices[market][index]
            if price is not None:
                # A scenario holds oracle and mark together.
                return PriceQuote(price, price, PriceSource.SCENARIO, times[index])
        return PriceQuote(recorded.oracle, recorded.mark, PriceSource.SNAPSHOT_HELD, None)
