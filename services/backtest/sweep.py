"""`dne backtest --sweep NAME=V1,V2,...`: every combination of the values, each run in its own
process on all cores; one row of totals per combination."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import Decimal
from typing import Any

from services.backtest.data import BacktestDataError
from services.backtest.gated_venue import BacktestRefused
from services.backtest.options import prepare
from services.backtest.report import summary
from services.backtest.runner import run_backtest

MAX_RUNS = 1000
# The options a sweep may vary, with the types `dne backtest` parses them with.
Parse = Callable[[str], Any]


def grid(specs: Sequence[str], parsers: dict[str, Parse]) -> list[dict[str, Any]]:
    """`["min_hold_hours=24,48", "exit_apr=0,-5"]` -> the 4 combinations, in order."""
    axes: list[tuple[str, list[Any]]] = []
    for spec in specs:
        name, _, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in parsers:
            raise BacktestDataError(f"--sweep {spec!r}: a sweep varies one of "
                                    f"{', '.join(sorted(parsers))}")
        texts = [value.strip() for value in values.split(",") if value.strip()]
        if not texts:
            raise BacktestDataError(f"--sweep {spec!r}: give NAME=V1,V2,...")
        try:
            axes.append((name, [parsers[name](text) for text in texts]))
        except (argparse.ArgumentTypeError, ValueError) as error:
            raise BacktestDataError(f"--sweep {spec!r}: {error}") from None
    combinations = [dict(zip([name for name, _ in axes], values, strict=True))
                    for values in itertools.product(*(values for _, values in axes))]
    if len(combinations) > MAX_RUNS:
        raise BacktestDataError(f"the sweep has {len(combinations)} runs; at most {MAX_RUNS}")
    return combinations


def run_sweep(args: argparse.Namespace, combinations: list[dict[str, Any]],
              workers: int | None = None,
              done: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Each combination's totals (the report without its hourly ledger), in grid order."""
    jobs = [argparse.Namespace(**{**vars(args), **overrides, "handler": None})
            for overrides in combinations]
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = {pool.submit(run_one, job): index for index, job in enumerate(jobs)}
        for finished, future in enumerate(as_completed(futures), start=1):
            values = combinations[futures[future]]
            results[futures[future]] = {
                "sweep": {name: str(value) if isinstance(value, Decimal) else value
                          for name, value in values.items()},
                **future.result()}
            if done is not None:
                done(finished, len(jobs))
    return [result for result in results if result is not None]


def run_one(args: argparse.Namespace) -> dict[str, Any]:
    """One run in a worker process: a refusal is a row that says why, not a failed sweep."""
    try:
        prepared = prepare(args)
        result = asyncio.run(run_backtest(prepared.data, prepared.strategy, args.start,
                                          args.end, args.capital))
    except (BacktestDataError, BacktestRefused) as error:
        return {"error": str(error)}
    report = summary(result, prepared.parameters)
    report["trade_count"] = len(report.pop("trades"))
    del report["ledger"]
    return report
