"""One backtest in a process of its own, for the engine's BacktestService: the request's options
as JSON on stdin, then JSON lines on stdout: {"progress": [done, total]} as it runs, and at the
end {"report": ...} or {"error": {"code", "message"}}.

The options are checked by `dne backtest`'s own parser, so the service and the CLI accept and
refuse the same input with the same words."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, NoReturn

from services.backtest.data import BacktestDataError
from services.backtest.gated_venue import BacktestRefused
from services.backtest.options import prepare
from services.backtest.report import summary
from services.backtest.runner import run_backtest
from services.cli.backtest import add_backtest_command

# Request fields and the `dne backtest` option each one is.
OPTIONS = {"strategy": "--strategy", "start": "--start", "end": "--end", "capital": "--capital",
           "market": "--market", "side": "--side", "size": "--size",
           "leverage": "--leverage", "exit_apr": "--exit-apr",
           "min_hold_hours": "--min-hold-hours", "switch_margin_apr": "--switch-margin-apr",
           "hourly_volatility": "--hourly-volatility"}


class _Refusing(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise BacktestDataError(message)


def options(request: dict[str, Any]) -> argparse.Namespace:
    """The request as `dne backtest` would parse it; empty fields take the CLI's defaults."""
    parser = _Refusing(prog="backtest")
    add_backtest_command(parser.add_subparsers(parser_class=_Refusing))
    argv = ["backtest"]
    for field, option in OPTIONS.items():
        value = request.get(field)
        if value not in (None, "", 0):
            argv.append(f"{option}={value}")   # one token: a value is never read as an option
    if request.get("markets"):
        argv.append("--markets=" + ",".join(str(market) for market in request["markets"]))
    if request.get("include_held_rates"):
        argv.append("--include-held-rates")
    if request.get("ungated"):
        argv.append("--ungated")
    if request.get("random_walk"):
        argv.append(f"--random-walk={int(request.get('random_walk_seed', 0))}")
    return parser.parse_args(argv)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    try:
        args = options(json.loads(sys.stdin.read()))
        prepared = prepare(args)
    except (ValueError, BacktestDataError) as error:   # ValueError: the request is not JSON
        emit({"error": {"code": "INVALID_ARGUMENT", "message": str(error)}})
        return 0
    last = -1

    def progress(done: int, total: int) -> None:
        nonlocal last
        step = done * 100 // total
        if step != last:   # about a hundred lines, however long the run
            last = step
            emit({"progress": [done, total]})

    try:
        run = asyncio.run(run_backtest(prepared.data, prepared.strategy, args.start, args.end,
                                       args.capital, progress))
    except BacktestRefused as error:
        emit({"error": {"code": "FAILED_PRECONDITION", "message": str(error)}})
        return 0
    emit({"report": summary(run, prepared.parameters)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
