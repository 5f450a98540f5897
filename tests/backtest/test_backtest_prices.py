"""Price scenarios: a CSV of hourly prices or a seeded random walk; the carry stays neutral
through them while a naked short does not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.backtest import price_scenarios
from services.backtest.data import BacktestData, BacktestDataError
from services.backtest.report import summary
from services.backtest.runner import BacktestRun, run_backtest
from services.backtest.strategies import Carry, Hold
from services.common.venue import Side
from services.feed.settings import DEFAULT_DATA_DIR

START = datetime(2026, 2, 1, tzinfo=UTC)
END = datetime(2026, 2, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)


def run(data: BacktestData, strategy) -> BacktestRun:  # type: ignore[no-untyped-def]
    return asyncio.run(run_backtest(data, strategy, START, END, Decimal(20000)))


def test_a_csv_sets_the_price_each_payment_and_fill_uses(tmp_path: Path) -> None:
    data = BacktestData.load(DEFAULT_DATA_DIR)
    prices = tmp_path / "prices.csv"
    prices.write_text("time,market,price\n"
                      f"{START.isoformat()},SOL-PERP,100\n"
                      f"{(START + 24 * HOUR).isoformat()},SOL-PERP,110\n")
    price_scenarios.apply(data, price_scenarios.load_csv(prices, data))
    hold = run(data, Hold("SOL-PERP", Side.SHORT, Decimal(10)))
    # An hour's payment uses the price when it settles (its end).
    assert {row.price for row in hold.ledger.hours if row.time < START + 23 * HOUR} == {100}
    assert {row.price for row in hold.ledger.hours if row.time >= START + 23 * HOUR} == {110}
    assert {row.price_source for row in hold.ledger.hours} == {"scenario"}
    assert hold.ledger.trades[0].oracle_price == 100 and hold.ledger.trades[1].oracle_price == 110
    # The short lost 10 SOL x 10 USD to the move, before costs.
    assert Decimal(summary(hold, {})["price_pnl_usd"]) == Decimal(-100)


def test_the_carry_is_neutral_through_a_random_walk_and_the_short_is_not() -> None:
    walks = []
    for _ in range(2):
        data = BacktestData.load(DEFAULT_DATA_DIR)
        walk = price_scenarios.random_walk(data, ["SOL-PERP"], START, END, 7, Decimal("0.01"))
        price_scenarios.apply(data, walk)
        walks.append(walk)
        carry = summary(run(data, Carry(Decimal(50))), {})
        short = summary(run(data, Hold("SOL-PERP", Side.SHORT, Decimal(50))), {})
    assert walks[0] == walks[1]   # the seed decides the walk
    assert len({price for _, price in walks[0]["SOL-PERP"]}) > 100
    assert Decimal(carry["price_pnl_usd"]) == 0
    assert Decimal(short["price_pnl_usd"]) != 0
    assert Decimal(carry["max_drawdown_pct"]) < Decimal(short["max_drawdown_pct"])


@pytest.mark.parametrize("body, message", [
    ("when,market,price\n", "header must name"),
    ("time,market,price\n2026-02-01T00:00:00,SOL-PERP,100\n", "no time zone"),
    ("time,market,price\n2026-02-01T00:30:00+00:00,SOL-PERP,100\n", "not on the hour"),
    ("time,market,price\n2026-02-01T00:00:00+00:00,NOPE-PERP,100\n", "no recorded market"),
    ("time,market,price\n2026-02-01T00:00:00+00:00,SOL-PERP,-1\n", "greater than zero"),
    ("time,market,price\n2026-02-01T00:00:00+00:00,SOL-PERP,1e999999\n", "line 2: price"),
    ("time,market,price\n2026-02-01T00:00:00+00:00,SOL-PERP,NaN\n", "finite"),
    ("time,market,price\n2026-02-01T00:00:00+00:00,SOL-PERP,1\n"
     "2026-02-01T00:00:00+00:00,SOL-PERP,2\n", "two prices for one hour"),
])
def test_a_bad_price_file_is_refused_with_its_line(tmp_path: Path, body: str,
                                                   message: str) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text(body)
    with pytest.raises(BacktestDataError, match=message):
        price_scenarios.load_csv(prices, BacktestData.load(DEFAULT_DATA_DIR))
