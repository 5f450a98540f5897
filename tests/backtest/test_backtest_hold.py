"""The hold baseline on the recorded data: its ledger is the recorded rates, exactly, paid by the
paper venue's own funding code; its totals add up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.backtest.data import BacktestData, BacktestDataError
from services.backtest.report import summary
from services.backtest.runner import BacktestRun, run_backtest
from services.backtest.strategies import Hold
from services.common.venue import Side
from services.feed.daily_funding import load_daily_funding
from services.feed.settings import DEFAULT_DATA_DIR

DATA = BacktestData.load(DEFAULT_DATA_DIR)
DAILY = load_daily_funding(DEFAULT_DATA_DIR)
START = datetime(2026, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 24, tzinfo=UTC)


def hold(market: str, side: Side, size: str, start: datetime = START, end: datetime = END,
         capital: str = "100000") -> BacktestRun:
    return asyncio.run(run_backtest(DATA, Hold(market, side, Decimal(size)), start, end,
                                    Decimal(capital)))


@pytest.mark.parametrize("market", ["SOL-PERP", "BTC-PERP", "ETH-PERP"])
def test_the_hold_ledger_is_the_recorded_daily_average_of_every_hour(market: str) -> None:
    run = hold(market, Side.SHORT, "1")
    hours = int((END - START) / timedelta(hours=1))
    assert [row.time for row in run.ledger.hours] == [
        START + timedelta(hours=n) for n in range(hours)]
    for row in run.ledger.hours:
        assert row.rate_1h == DAILY[market][row.time.date()]
        assert row.rate_source == "recorded_daily_average"
        assert row.price_source == "snapshot_held"
        assert row.price == DATA.snapshots[market].oracle_price
        # A short of size S receives S x rate_1h x price (pays when the rate is negative).
        assert row.position == Decimal(-1)
        assert row.funding_usd == 1 * row.rate_1h * row.price


def test_sol_shorts_paid_on_the_days_the_recorded_rate_was_negative() -> None:
    run = hold("SOL-PERP", Side.SHORT, "2")
    negative = [row for row in run.ledger.hours if row.rate_1h < 0]
    assert negative and all(row.funding_usd < 0 for row in negative)
    negative_days = {row.time.date() for row in negative}
    assert len(negative_days) == sum(1 for day in DAILY["SOL-PERP"].values() if day < 0)


def test_the_totals_add_up_from_the_ledger_and_the_trades() -> None:
    run = hold("BTC-PERP", Side.SHORT, "0.5")
    report = summary(run, {})
    funding = sum(row.funding_usd for row in run.ledger.hours)
    costs = sum(t.fee_usd + t.slippage_usd for t in run.ledger.trades)
    assert Decimal(report["funding_pnl_usd"]) == funding.quantize(Decimal("0.000001"))
    assert [t.kind for t in run.ledger.trades] == ["perp_open", "perp_close"]
    assert all(t.fee_usd > 0 and t.slippage_usd > 0 for t in run.ledger.trades)
    # On held prices nothing but funding, fees and slippage moves the equity.
    assert abs(run.final_equity - run.capital - (funding - costs)) < Decimal("0.000001")
    assert Decimal(report["price_pnl_usd"]) == 0
    assert report["time_in_market_pct"] == "100"
    assert report["events"] == 1752 and report["events_per_second"] > 0
    assert report["sources"]["rates"] == {"BTC-PERP": {"recorded_daily_average": 1752}}


@settings(max_examples=15, deadline=None)
@given(first_day=st.integers(0, 60), days=st.integers(1, 12),
       side=st.sampled_from([Side.LONG, Side.SHORT]),
       size=st.decimals("0.001", "3", places=3))
def test_any_window_pays_the_sum_of_size_rate_price(first_day: int, days: int, side: Side,
                                                    size: Decimal) -> None:
    start = START + timedelta(days=first_day)
    end = min(start + timedelta(days=days), END)
    run = hold("ETH-PERP", side, str(size), start, end)
    signed = size if side is Side.LONG else -size
    price = DATA.snapshots["ETH-PERP"].oracle_price
    hours = [start + timedelta(hours=h) for h in range(int((end - start) / timedelta(hours=1)))]
    expected = sum(-signed * DAILY["ETH-PERP"][hour.date()] * price for hour in hours)
    assert sum(row.funding_usd for row in run.ledger.hours) == expected


def test_dates_without_data_and_unknown_markets_are_refused_with_what_there_is() -> None:
    with pytest.raises(BacktestDataError, match="recorded data runs from 2026-01-10"):
        hold("BTC-PERP", Side.SHORT, "1", START - timedelta(days=1), START + timedelta(days=1))
    with pytest.raises(BacktestDataError, match="not before"):
        hold("BTC-PERP", Side.SHORT, "1", START, START)
    with pytest.raises(BacktestDataError, match=r"tradable: .*BTC-PERP"):
        DATA.require_market("NOPE-PERP")


def test_the_data_is_the_repository_s_own() -> None:
    assert Path(DEFAULT_DATA_DIR).is_dir() and DATA.window == (START, END)
