"""Prices other than the recorded, held ones: a CSV of hourly prices, or a seeded random walk
from the recorded price. Either is set on the run's PriceBook as a scenario, so every quote and
funding payment after it uses it and the report labels it `scenario`."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from services.backtest.data import BacktestData, BacktestDataError
from services.common.decimals import parse_decimal
from services.common.errors import DomainError

HOUR = timedelta(hours=1)
PRICE_STEP = Decimal("0.000001")
MAX_ROWS = 1_000_000
Scenario = dict[str, list[tuple[datetime, Decimal]]]


def load_csv(path: Path, data: BacktestData) -> Scenario:
    """`time,market,price` rows (time ISO 8601 with its zone, on the hour): each price holds
    from its hour until the market's next row."""
    scenario: Scenario = {}
    try:
        with path.open(newline="") as file:
            rows = csv.DictReader(file)
            if rows.fieldnames is None or not {"time", "market", "price"} <= set(rows.fieldnames):
                raise BacktestDataError(f"{path}: the header must name time, market and price")
            for number, row in enumerate(rows, start=2):
                if number > MAX_ROWS:
                    raise BacktestDataError(f"{path}: more than {MAX_ROWS} rows")
                at, market, price = _row(path, number, row, data)
                scenario.setdefault(market, []).append((at, price))
    except OSError as error:
        raise BacktestDataError(f"cannot read the price file {path}: {error}") from None
    for market, entries in scenario.items():
        entries.sort()
        if len({at for at, _ in entries}) != len(entries):
            raise BacktestDataError(f"{path}: {market} has two prices for one hour")
    return scenario


def random_walk(data: BacktestData, markets: Iterable[str], start: datetime, end: datetime,
                seed: int, hourly_volatility: Decimal) -> Scenario:
    """A geometric random walk per market from its recorded price, one step an hour:
    p(h+1) = p(h) x exp(sigma x z), z standard normal from `random.Random(seed)`."""
    generator = random.Random(seed)  # noqa: S311 - a reproducible model, not a secret
    sigma = float(hourly_volatility)
    scenario: Scenario = {}
    for market in sorted(markets):
        price = float(data.snapshots[market].oracle_price)
        entries = []
        at = start
        while at <= end:   # the price at `end` pays the last hour
            entries.append((at, Decimal(repr(price)).quantize(PRICE_STEP)))
            price *= math.exp(sigma * generator.gauss(0.0, 1.0))
            at += HOUR
        scenario[market] = entries
    return scenario


def apply(data: BacktestData, scenario: Scenario) -> None:
    for market, entries in scenario.items():
        for at, price in entries:
            data.prices.set_scenario(market, at, price)


def _row(path: Path, number: int, row: dict[str, str], data: BacktestData,
         ) -> tuple[datetime, str, Decimal]:
    where = f"{path} line {number}"
    try:
        at = datetime.fromisoformat(row["time"].strip())
    except (ValueError, AttributeError):
        raise BacktestDataError(f"{where}: time {row.get('time')!r} is not ISO 8601") from None
    if at.tzinfo is None:
        raise BacktestDataError(f"{where}: time {row['time']!r} has no time zone (use +00:00)")
    at = at.astimezone(UTC)
    if at.minute or at.second or at.microsecond:
        raise BacktestDataError(f"{where}: time {row['time']!r} is not on the hour")
    market = (row.get("market") or "").strip().upper()
    if market not in data.snapshots:
        raise BacktestDataError(f"{where}: no recorded market {market!r}")
    try:
        price = parse_decimal(row.get("price") or "", "price", positive=True)
    except DomainError as error:
        raise BacktestDataError(f"{where}: {error.message}") from None
    return at, market, price
