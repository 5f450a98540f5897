"""`dne backtest` as a script and a person use it: JSON out, a summary table, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def dne(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", "backtest", *args],
                          capture_output=True, text=True, timeout=120)


def test_a_hold_backtest_writes_its_json_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = dne("--start", "2026-01-10", "--end", "2026-03-24", "--strategy", "hold",
               "--market", "BTC-PERP", "--side", "short", "--size", "1", "--capital", "20000",
               "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    for key in ("funding_pnl_usd", "fees_usd", "slippage_usd", "net_pnl_usd",
                "max_drawdown_pct", "time_in_market_pct", "markets", "trades", "events",
                "events_per_second", "ledger"):
        assert key in report
    assert len(report["ledger"]) == 73 * 24
    assert set(report["ledger"][0]) == {"time", "market", "rate_1h", "rate_source", "price",
                                        "price_source", "position", "funding_usd", "equity_usd"}
    assert Decimal(report["funding_pnl_usd"]) == sum(
        Decimal(row["funding_usd"]) for row in report["ledger"]).quantize(Decimal("0.000001"))
    assert "funding" in done.stdout and "net" in done.stdout and "events" in done.stdout


def test_dates_without_data_are_refused_with_exit_2_and_the_data_window() -> None:
    done = dne("--start", "2025-01-01", "--end", "2025-02-01", "--market", "BTC-PERP")
    assert done.returncode == 2
    assert "recorded data runs from 2026-01-10" in done.stderr and "Traceback" not in done.stderr


def test_bad_input_is_refused_by_the_parser_with_exit_2() -> None:
    for args in (["--start", "2026-13-01", "--end", "2026-02-01"],
                 ["--start", "2026-01-10", "--end", "2026-02-01", "--size", "NaN"],
                 ["--start", "2026-01-10", "--end", "2026-02-01", "--market", "NOPE-PERP"]):
        done = dne(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, args


def test_a_position_beyond_the_venue_s_leverage_is_refused_with_exit_1_and_why() -> None:
    done = dne("--start", "2026-01-10", "--end", "2026-03-24", "--market", "BTC-PERP",
               "--size", "1", "--capital", "10000")
    assert done.returncode == 1
    assert "LEVERAGE_LIMIT" in done.stderr and "at most 10x" in done.stderr


def test_carry_and_rotate_run_from_the_cli(tmp_path: Path) -> None:
    for strategy, extra in (("carry", ["--size", "10", "--ungated"]),
                            ("rotate", ["--min-hold-hours", "48"])):
        out = tmp_path / f"{strategy}.json"
        done = dne("--start", "2026-02-01", "--end", "2026-02-15", "--strategy", strategy,
                   "--capital", "10000", "--json", str(out), *extra)
        assert done.returncode == 0, done.stderr
        report = json.loads(out.read_text())
        assert report["strategy"] == strategy and report["hours"] == 14 * 24
        assert report["trades"], strategy
    rotate = json.loads((tmp_path / "rotate.json").read_text())
    assert rotate["parameters"]["markets"] == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]


def test_a_carry_the_engine_would_refuse_trades_nothing_and_says_why(tmp_path: Path) -> None:
    # SOL shorts paid every hour of these two weeks: the engine's profitability gate refuses
    # the entry each hour the strategy asks; past the gates (above) the carry trades.
    out = tmp_path / "carry.json"
    done = dne("--start", "2026-02-01", "--end", "2026-02-15", "--strategy", "carry",
               "--size", "10", "--capital", "10000", "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["gated"] is True and report["trades"] == []
    assert report["net_pnl_usd"] == "0"
    [refusal] = report["refusals"]
    assert (refusal["gate"], refusal["code"], refusal["count"]) == (
        "profitability", "UNPROFITABLE", 14 * 24)
    assert (refusal["market"], refusal["side"]) == ("SOL-PERP", "short")
    assert "refused 336 time(s) by the engine's profitability gate" in done.stdout


def test_rotate_refuses_a_market_it_does_not_know() -> None:
    done = dne("--start", "2026-02-01", "--end", "2026-02-15", "--strategy", "rotate",
               "--markets", "BTC-PERP,NOPE-PERP")
    assert done.returncode == 2 and "NOPE-PERP" in done.stderr


def test_a_seeded_random_walk_is_labelled_modeled_and_repeats(tmp_path: Path) -> None:
    reports = []
    for name in ("first", "second"):
        out = tmp_path / f"{name}.json"
        done = dne("--start", "2026-02-01", "--end", "2026-02-08", "--market", "SOL-PERP",
                   "--size", "10", "--random-walk", "11", "--json", str(out))
        assert done.returncode == 0, done.stderr
        reports.append(json.loads(out.read_text()))
    assert reports[0]["ledger"] == reports[1]["ledger"]
    assert "modeled: seeded random walk (seed 11" in reports[0]["parameters"]["prices"]
    assert reports[0]["sources"]["prices"] == {"SOL-PERP": {"scenario": 7 * 24}}
    assert Decimal(reports[0]["price_pnl_usd"]) != 0


def test_an_unreadable_imported_history_is_refused_with_exit_2_and_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "BTC-PERP.json").write_text("{not json")
    done = dne("--start", "2026-02-01", "--end", "2026-02-03", "--market", "BTC-PERP",
               "--size", "0.01", "--import-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "BTC-PERP.json is unreadable" in done.stderr and "Traceback" not in done.stderr
