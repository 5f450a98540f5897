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

from services.backtest import price_scenarios
from services.backtest.data import BacktestData, BacktestDataError
from services.backtest.html_report import render
from services.backtest.report import summary
from services.backtest.runner import SOL_MARKET, BacktestRefused, Strategy, run_backtest
from services.backtest.strategies import Carry, Hold, Rotate
from services.common.decimals import parse_decimal
from services.common.errors import DomainError
from services.executor.domain import Side
from services.feed.daily_funding import DailyFundingError
from services.feed.drift_accounts import SnapshotError
from services.feed.settings import DEFAULT_DATA_DIR, DEFAULT_IMPORT_DIR

STRATEGIES = ("hold", "carry", "rotate")


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
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DNE_DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--import-dir", type=Path,
                        default=Path(os.environ.get("DNE_IMPORT_DIR", DEFAULT_IMPORT_DIR)),
                        help="hourly history from `dne data import` (replaces modeled hours)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    try:
        data = BacktestData.load(args.data_dir, args.import_dir)
        data.require_window(args.start, args.end)
        strategy, parameters = _strategy(args, data)
        parameters.update(_price_scenario(args, data))
    except (BacktestDataError, DailyFundingError, SnapshotError) as error:
        print(f"dne backtest: {error}", file=sys.stderr)
        return 2
    parameters["capital"] = str(args.capital)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"backtest {strategy.name}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = asyncio.run(run_backtest(data, strategy, args.start, args.end,
                                              args.capital, advance))
        except BacktestRefused as error:
            print(f"dne backtest: {error}", file=sys.stderr)
            return 1
    report = summary(result, parameters)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))
    if args.html is not None:
        args.html.write_text(render(result, report))
    _print_summary(report)
    return 0


def _strategy(args: argparse.Namespace, data: BacktestData) -> tuple[Strategy, dict[str, Any]]:
    if args.strategy == "hold":
        market = data.require_market(args.market)
        side = Side.SHORT if args.side == "short" else Side.LONG
        return Hold(market, side, args.size), {"market": market, "side": args.side,
                                               "size": str(args.size)}
    if args.strategy == "carry":
        return Carry(args.size), {"market": SOL_MARKET, "size": str(args.size)}
    if args.markets:
        markets = [data.require_market(m) for m in args.markets.split(",") if m.strip()]
    elif args.include_held_rates:
        markets = data.tradable_markets()
    else:
        markets = data.recorded_markets(args.start, args.end)
    if not markets:
        raise BacktestDataError("rotate has no market to choose from in these dates")
    if args.min_hold_hours < 0:
        raise BacktestDataError("--min-hold-hours must be 0 or more")
    strategy = Rotate(markets, leverage=args.leverage, exit_apr=args.exit_apr,
                      min_hold_hours=args.min_hold_hours,
                      switch_margin_apr=args.switch_margin_apr)
    return strategy, {"markets": markets, "leverage": str(args.leverage),
                      "exit_apr": str(args.exit_apr), "min_hold_hours": args.min_hold_hours,
                      "switch_margin_apr": str(args.switch_margin_apr)}


def _price_scenario(args: argparse.Namespace, data: BacktestData) -> dict[str, str]:
    if args.prices is not None:
        price_scenarios.apply(data, price_scenarios.load_csv(args.prices, data))
        return {"prices": f"scenario from {args.prices}"}
    if args.random_walk is not None:
        price_scenarios.apply(data, price_scenarios.random_walk(
            data, data.snapshots, args.start, args.end, args.random_walk,
            args.hourly_volatility))
        return {"prices": f"modeled: seeded random walk (seed {args.random_walk}, hourly "
                          f"volatility {args.hourly_volatility}) from the recorded prices"}
    return {"prices": "recorded oracle prices, held"}


def _print_summary(report: dict[str, Any]) -> None:
    table = Table("", "USD", min_width=44,
                  title=f"{report['strategy']}: {report['start'][:10]} to {report['end'][:10]}")
    for label, key in (("funding", "funding_pnl_usd"), ("fees", "fees_usd"),
                       ("slippage", "slippage_usd"), ("price moves", "price_pnl_usd"),
                       ("net", "net_pnl_usd")):
        table.add_row(label, f"{Decimal(report[key]):,.2f}")
    console = Console()
    console.print(table)
    console.print(f"return {report['net_return_pct']} % · max drawdown "
                  f"{report['max_drawdown_pct']} % · in market {report['time_in_market_pct']} % "
                  f"· {report['events']} events, {report['events_per_second']}/s")


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
