"""python -m bench [--quick]: the floor and the real system side by side, one table.

Runs the floor (bench/floor.py) and the paper system without tracing, measures every path
against its floor, then a second paper system exporting its spans to a receiver here, for the
trade's hops and the cost of tracing, and a third on the engine's default tick for idle CPU;
first of all, the backtester's speed over a year of market-hours (bench/backtest_speed.py).
Prints the table, writes bench/results.json, and exits 1 when a target is missed."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench import plan
from bench.backtest_speed import backtest_rows
from bench.floor_processes import running_floor, running_trade_floor
from bench.report import show, write
from bench.stats import Row
from bench.system import paper_system
from tests.kit.otlp_receiver import otlp_receiver
from tests.kit.ports import free_port

QUICK = plan.Settings(samples=300, load_seconds=5.0, fanout_seconds=3.0, idle_seconds=5.0)
THROUGHPUT_SECONDS = 5.0


async def measure(settings: plan.Settings, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    for name in ("plain", "traced", "traced-all", "idle"):
        (workdir / name).mkdir()
    engine_metrics = free_port()
    async with running_floor() as floor, paper_system(workdir / "plain",
                                                      engine_metrics) as running:
        rows += await plan.grpc_paths(running, floor, settings)
        rows += await plan.rest_paths(running, floor, settings)
        rows += await plan.open_load(running, floor, settings)
        rows += await plan.websocket_paths(running, settings)
        rows += await plan.fanout_paths(running, floor, settings)
        async with running_trade_floor() as trade_floor:
            rows += await plan.trade_path(running, settings,
                                          f"http://127.0.0.1:{engine_metrics}/metrics",
                                          trade_floor)
        memory = plan.memory(running)
        # The traced system beside the plain one, and a traced floor beside the plain floor:
        # the cost of tracing is read from their throughputs taken in turn, round after round,
        # so the VM's drift falls on all of them.
        async with otlp_receiver() as (spans, endpoint):
            exporting = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                         "OTEL_EXPORTER_OTLP_INSECURE": "true",
                         # Exported every 100 ms: no trade's spans overflow the queue.
                         "OTEL_BSP_SCHEDULE_DELAY": "100"}
            every_read = {**exporting, "TRACE_READ_RATIO": "1"}
            async with paper_system(workdir / "traced", free_port(), exporting) as traced, \
                    paper_system(workdir / "traced-all", free_port(), every_read) as traced_all, \
                    running_floor(exporting) as traced_floor:
                await plan.trade_path(traced, plan.Settings(samples=settings.samples), None)
                rows += await plan.tracing_cost((running, traced, traced_all),
                                                (floor, traced_floor), THROUGHPUT_SECONDS)
            await asyncio.sleep(1)   # the last spans exported
    # Idle as `make run` idles: a fresh system with the engine's default tick, nothing calling.
    async with paper_system(workdir / "idle", free_port(), fast_tick=False) as running:
        idle = await plan.idle(running, settings)
    rows += plan.hop_rows(spans)
    return rows + idle + memory


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("BENCH_QUICK") == "1",
                        help="fewer samples, a 5 s load instead of 30 s (also BENCH_QUICK=1)")
    settings = QUICK if parser.parse_args(argv).quick else plan.Settings()
    # In process and first, while nothing else runs: one core's CPU time (its own event loop).
    rows = backtest_rows()
    with tempfile.TemporaryDirectory(prefix="dne-bench-") as workdir:
        rows += asyncio.run(measure(settings, Path(workdir)))
    show(rows)
    write(rows, asdict(settings))
    missed = [row.name for row in rows if row.passed is False]
    if missed:
        print(f"{len(missed)} target(s) missed: " + "; ".join(r.strip() for r in missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
