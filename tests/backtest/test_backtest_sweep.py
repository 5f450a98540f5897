"""--sweep: every combination, each in its own process, rows in grid order; bad grids refused."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.backtest.data import BacktestDataError
from services.backtest.sweep import grid
from services.cli.backtest import SWEEPABLE
from tests.backtest.test_backtest_cli import dne


def test_the_grid_is_every_combination_in_order() -> None:
    assert grid(["min_hold_hours=24,72", "exit-apr=0,-5"], SWEEPABLE) == [
        {"min_hold_hours": 24, "exit_apr": 0}, {"min_hold_hours": 24, "exit_apr": -5},
        {"min_hold_hours": 72, "exit_apr": 0}, {"min_hold_hours": 72, "exit_apr": -5}]


@pytest.mark.parametrize("spec, message", [
    ("nope=1", "a sweep varies one of"), ("size=", "NAME=V1,V2"),
    ("size=1,NaN", "finite"), ("min_hold_hours=1,x", "invalid literal"),
    ("random_walk=" + ",".join(str(n) for n in range(1001)), "at most 1000"),
])
def test_a_bad_grid_is_refused(spec: str, message: str) -> None:
    with pytest.raises(BacktestDataError, match=message):
        grid([spec], SWEEPABLE)


def test_a_sweep_runs_each_combination_and_writes_one_row_each(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    done = dne("--start", "2026-02-01", "--end", "2026-02-08", "--strategy", "hold",
               "--market", "BTC-PERP", "--capital", "50000", "--sweep", "size=0.1,0.2",
               "--sweep", "side=short,long", "--workers", "1", "--json", str(out))
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["sweep"]
    assert [row["sweep"] for row in rows] == [
        {"size": "0.1", "side": "short"}, {"size": "0.1", "side": "long"},
        {"size": "0.2", "side": "short"}, {"size": "0.2", "side": "long"}]
    funding = [Decimal(row["funding_pnl_usd"]) for row in rows]
    # Opposite sides receive and pay the same funding; twice the size, twice the funding.
    assert funding[0] == -funding[1] and funding[2] == 2 * funding[0]
    assert all(row["trade_count"] == 2 and "ledger" not in row for row in rows)


def test_a_refused_run_is_a_row_that_says_why_not_a_failed_sweep(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    done = dne("--start", "2026-02-01", "--end", "2026-02-03", "--market", "BTC-PERP",
               "--capital", "10000", "--sweep", "size=0.01,5", "--json", str(out))
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["sweep"]
    assert "net_pnl_usd" in rows[0] and "LEVERAGE_LIMIT" in rows[1]["error"]
