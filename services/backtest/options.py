"""A backtest's data, strategy and prices from `dne backtest`'s options (a namespace, so a sweep
can copy it with other values and send it to another process). The CLI, the sweep's processes
and the engine's worker all prepare a run here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from services.backtest import price_scenarios
from services.backtest.data import BacktestData, BacktestDataError
from services.backtest.gated_venue import SOL_MARKET
from services.backtest.runner import Strategy
from services.backtest.strategies import Carry, Hold, Rotate
from services.common.venue import Side
from services.feed.daily_funding import DailyFundingError
from services.feed.drift_accounts import SnapshotError
from services.feed.history_store import ImportedHistoryError


@dataclass(frozen=True)
class PreparedRun:
    data: BacktestData
    strategy: Strategy
    parameters: dict[str, Any]   # as the report shows them


def prepare(args: argparse.Namespace) -> PreparedRun:
    """The run the options name, checked against the data. BacktestDataError says what is
    wrong, an unreadable data or imported-history file included."""
    try:
        data = BacktestData.load(args.data_dir, args.import_dir)
    except (DailyFundingError, SnapshotError, ImportedHistoryError) as error:
        raise BacktestDataError(str(error)) from None
    data.require_window(args.start, args.end)
    strategy, parameters = strategy_from(args, data)
    parameters.update(prices_from(args, data))
    parameters["capital"] = str(args.capital)
    return PreparedRun(data, strategy, parameters)


def strategy_from(args: argparse.Namespace, data: BacktestData,
                  ) -> tuple[Strategy, dict[str, Any]]:
    """The strategy the options name, and its parameters as the report shows them."""
    if args.strategy == "hold":
        market = data.require_market(args.market)
        side = Side.SHORT if args.side == "short" else Side.LONG
        return Hold(market, side, args.size), {"market": market, "side": args.side,
                                               "size": str(args.size)}
    if args.strategy == "carry":
        return Carry(args.size, gated=not args.ungated), {
            "market": SOL_MARKET, "size": str(args.size), "gated": not args.ungated}
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
                      switch_margin_apr=args.switch_margin_apr, gated=not args.ungated)
    return strategy, {"markets": markets, "leverage": str(args.leverage),
                      "exit_apr": str(args.exit_apr), "min_hold_hours": args.min_hold_hours,
                      "switch_margin_apr": str(args.switch_margin_apr),
                      "gated": not args.ungated}


def prices_from(args: argparse.Namespace, data: BacktestData) -> dict[str, str]:
    """Sets the price scenario the options name on `data`; answers how the report names it."""
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
