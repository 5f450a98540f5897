"""The backtester's speed (issue 13): a year of hourly funding across every tradable recorded
market through `rotate` (the engine's fee guard each hour it may enter), beside a floor: a bare
loop over the same market-hours summing size x rate x price.

The recorded data holds 73 days; the year repeats them five times. That is a model for the
benchmark only, labelled so in the row: no figure here is a result about the market."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from bench.stats import Row, Target
from services.backtest.data import BacktestData
from services.backtest.runner import run_backtest
from services.backtest.strategies import Rotate
from services.feed.funding_history import DataWindow, FundingHistory
from services.feed.settings import DEFAULT_DATA_DIR

HOUR = timedelta(hours=1)
YEAR_HOURS = 365 * 24
TARGET_SECONDS = 2.0


def repeated_year(data: BacktestData) -> BacktestData:
    """The recorded hours of every market, repeated until a year is full."""
    window = data.history.window
    recorded = window.hours()
    series = {}
    for market in data.history.markets:
        hours = data.history.between(market, window.start, window.end, recorded)
        series[market] = [replace(hours[index % recorded], period_start=window.start + index * HOUR)
                          for index in range(YEAR_HOURS)]
    year = DataWindow(window.start, window.start + YEAR_HOURS * HOUR)
    return BacktestData(data.snapshots, FundingHistory(year, series), data.prices)


def floor_seconds(data: BacktestData, markets: list[str]) -> float:
    """The least a backtest must do: read each market-hour's rate and price and add it up."""
    start = data.history.window.start
    price = {market: data.snapshots[market].oracle_price for market in markets}
    began = time.process_time()
    total = Decimal(0)
    for index in range(YEAR_HOURS):
        at = start + index * HOUR
        for market in markets:
            total += data.history.at(market, at).rate_1h * price[market]
    return time.process_time() - began


def backtest_rows() -> list[Row]:
    data = repeated_year(BacktestData.load(DEFAULT_DATA_DIR))
    markets = data.tradable_markets()
    start, end = data.window
    began = time.process_time()
    run = asyncio.run(run_backtest(data, Rotate(markets), start, end, Decimal(20_000)))
    seconds = time.process_time() - began
    floor = floor_seconds(data, markets)
    note = (f"{len(markets)} markets x {YEAR_HOURS} h = {run.events} market-hours (73 recorded "
            f"days repeated: a model for speed only); {run.events / seconds:,.0f} events/s; "
            f"floor {floor:.2f} s ({seconds / floor:.1f}x)")
    return [Row("backtest: rotate, a year, every tradable market (CPU s)", value=seconds,
                unit="s", targets=(Target("value", TARGET_SECONDS),), note=note),
            Row("  floor: a bare loop over the same market-hours (CPU s)", value=floor,
                unit="s")]
