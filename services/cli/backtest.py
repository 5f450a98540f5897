"""`dne backtest`: what a strategy would have earned on the recorded data, through the paper
venue's own code in process (issue 13)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from services.backtest import sweep
from services.backtest.data import BacktestDataError
from services.backtest.gated_venue import BacktestRefused
from services.backtest.html_report import render
from services.backtest.options import prepare
from services.backtest.report import TOTALS, summary
from services.backtest.runner import run_backtest
from services.cli import output
from services.common.decimals import parse_decimal
from services.common.errors import DomainError
from services.feed.settings import DEFAULT_DATA_DIR, DEFAULT_IMPORT_DIR

STRATEGIES = ("hold", "carry", "rotate")
SWEEPABLE: dict[str, sweep.Parse] = {}   # filled below, once the parsers exist


def add_backtest_command(commands: Any) -> None:
    parser = commands.add_parser(
        "backtest", help="what a strategy would have earned on the recorded data",
        description="Runs a strategy hour by hour over the recorded funding data through the "
                    "paper venue's own fills, fees, slippage, margin and hourly funding, in "
                    "process. Dates are UTC; --end is exclusive. Exit code 2 on bad input.")
    parser.add_argument("--start", required=True, type=_utc_date, help="first day, YYYY-MM-DD")
    parser.add_argument("--end", required=True, type=_utc_date, help="day after the last one")
    parser.add_argument("--strategy", choices=STRATEGIES, default="hold",
                        help="hold: one position from start to end (the baseline); carry: the "
                             "engine's spot SOL + SOL-PERP short with its rebalancer; rotate: "
                             "the best-paying market, entered past the engine's fee guard")
    parser.add_argument("--market", default="SOL-PERP", help="hold: the market")
    parser.add_argument("--side", choices=["long", "short"], default="short",
                        help="hold: the side")
    parser.add_argument("--size", type=_positive, default=Decimal(1),
                        help="hold and carry: base units of the position (default 1)")
    parser.add_argument("--markets", default="",
                        help="rotate: comma-separated markets (default: those with recorded "
                             "or imported rates in the window)")
    parser.add_argument("--include-held-rates", action="store_true",
                        help="rotate: also markets whose only rate is their snapshot's last "
                             "settled one, held (labelled snapshot_held in the report)")
    parser.add_argument("--leverage", type=_positive, default=Decimal(1),
                        help="rotate: position notional as a multiple of equity (default 1)")
    parser.add_argument("--exit-apr", type=_number, default=Decimal(0),
                        help="rotate: leave when the held side's APR %% falls below (default 0)")
    parser.add_argument("--min-hold-hours", type=int, default=24,
                        help="rotate: hours before a position may be left (default 24)")
    parser.add_argument("--switch-margin-apr", type=_number, default=Decimal(10),
                        help="rotate: APR %% points another market must pay more (default 10)")
    parser.add_argument("--ungated", action="store_true",
                        help="carry and rotate: send every order as the strategy asks, past "
                             "the engine's gates (a what-if; by default an order the engine "
                             "would refuse is not traded, and the report lists the refusals). "
                             "hold, the baseline, is always ungated")
    parser.add_argument("--capital", type=_positive, default=Decimal(10_000),
                        help="USDC deposited at the start (default 10000)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write the whole result (totals, trades, hourly ledger) here")
    prices = parser.add_mutually_exclusive_group()
    prices.add_argument("--prices", type=Path, default=None, metavar="CSV",
                        help="hourly prices (time,market,price) instead of the recorded, held "
                             "ones; each holds until its market's next row")
    prices.add_argument("--random-walk", type=int, default=None, metavar="SEED",
                        help="a seeded geometric random walk from the recorded prices (modeled)")
    parser.add_argument("--hourly-volatility", type=_positive, default=Decimal("0.005"),
                        help="--random-walk: sigma of one hour's log return (default 0.005)")
    parser.add_argument("--html", type=Path, default=None, metavar="FILE",
                        help="write one self-contained HTML report (equity, funding, drawdown)")
    parser.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                        help="run every combination of these values (repeatable; e.g. "
                             "min_hold_hours=24,72 exit_apr=0,-5), in parallel on all cores: "
                             f"{', '.join(sorted(SWEEPABLE))}")
    parser.add_argument("--workers", type=int, default=None,
                        help="--sweep: processes (default: every core)")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DNE_DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--import-dir", type=Path,
                        default=Path(os.environ.get("DNE_IMPORT_DIR", DEFAULT_IMPORT_DIR)),
                        help="hourly history from `dne data import` (replaces modeled hours)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = output.console(stderr=True)
    try:
        prepared = prepare(args)   # a sweep's base options are checked too
    except BacktestDataError as error:
        print(f"dne backtest: {error}", file=sys.stderr)
        return 2
    if args.sweep:
        return _sweep(args, console)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"backtest {prepared.strategy.name}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = asyncio.run(run_backtest(prepared.data, prepared.strategy, args.start,
                                              args.end, args.capital, advance))
        except BacktestRefused as error:
            print(f"dne backtest: {error}", file=sys.stderr)
            return 1
    report = summary(result, prepared.parameters)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))
    if args.html is not None:
        args.html.write_text(render(result, report))
    _print_summary(report)
    return 0


def _sweep(args: argparse.Namespace, console: Console) -> int:
    try:
        combinations = sweep.grid(args.sweep, SWEEPABLE)
    except BacktestDataError as error:
        print(f"dne backtest: {error}", file=sys.stderr)
        return 2
    if args.workers is not None and not 1 <= args.workers <= 256:
        print("dne backtest: --workers must be between 1 and 256", file=sys.stderr)
        return 2
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"sweep of {len(combinations)} runs", total=len(combinations))
        rows = sweep.run_sweep(args, combinations, args.workers,
                               lambda done, _total: progress.update(task, completed=done))
    if args.json is not None:
        args.json.write_text(json.dumps({"sweep": rows}, indent=1))
    names = list(combinations[0])
    table = Table(*names, "net USD", "funding", "fees + slippage", "max DD %", "trades",
                  title=f"sweep: {args.strategy}, {args.start:%Y-%m-%d} to {args.end:%Y-%m-%d}")
    ranked = sorted(rows, key=lambda row: -Decimal(row.get("net_pnl_usd", "-1e15")))
    for row in ranked:
        values = [str(row["sweep"][name]) for name in names]
        if "error" in row:
            table.add_row(*values, "refused", row["error"][:60], "", "", "")
            continue
        costs = Decimal(row["fees_usd"]) + Decimal(row["slippage_usd"])
        table.add_row(*values, f"{Decimal(row['net_pnl_usd']):,.2f}",
                      f"{Decimal(row['funding_pnl_usd']):,.2f}", f"{costs:,.2f}",
                      row["max_drawdown_pct"], str(row["trade_count"]))
    output.console().print(table)
    return 0


def _print_summary(report: dict[str, Any]) -> None:
    table = Table("", "USD", min_width=44,
                  title=f"{report['strategy']}: {report['start'][:10]} to {report['end'][:10]}")
    for label, key in TOTALS:
        table.add_row(label, f"{Decimal(report[key]):,.2f}")
    console = output.console()
    console.print(table)
    console.print(f"return {report['net_return_pct']} % · max drawdown "
                  f"{report['max_drawdown_pct']} % · in market {report['time_in_market_pct']} % "
                  f"· {report['events']} events, {report['events_per_second']}/s")
    if not report["gated"]:
        console.print("ungated: every order went to the venue as asked, past the engine's gates")
    for refused in report["refusals"]:
        console.print(f"refused {refused['count']} time(s) by the engine's {refused['gate']} "
                      f"gate ({refused['code']}), {refused['first'][:16]} to "
                      f"{refused['last'][:16]}: {refused['kind']} {refused['side']} "
                      f"{refused['market']}: {refused['reason']}")


def _utc_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _number(text: str) -> Decimal:
    try:
        return parse_decimal(text, "the value")
    except DomainError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _positive(text: str) -> Decimal:
    try:
        return parse_decimal(text, "the value", positive=True)
    except DomainError as error:
        raise argparse.ArgumentTypeError(error.message) from None


SWEEPABLE.update({
    "size": _positive, "leverage": _positive, "exit_apr": _number, "switch_margin_apr": _number,
    "min_hold_hours": int, "capital": _positive, "random_walk": int,
    "hourly_volatility": _positive, "market": str, "side": str,
})
