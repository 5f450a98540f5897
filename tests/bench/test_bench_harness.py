"""The bench's own arithmetic and its floor, so `make test` notices when the harness rots
(`make bench` itself is not run here: it takes minutes)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from bench.floor import echo_stub
from bench.floor_processes import running_floor
from bench.histograms import mean_ms
from bench.pool import ConnectionPool
from bench.report import table, write
from bench.sampling import closed_loop, open_loop
from bench.spans import covered_ns
from bench.stats import Overhead, Row, Target, percentile
from bench.websocket import floor_fanout_latencies, funding_frame_size, readers


def test_percentile_is_the_nearest_rank() -> None:
    samples = [float(value) for value in range(1, 201)]   # 1 .. 200
    assert percentile(samples, 0.50) == 100
    assert percentile(samples, 0.99) == 198
    assert percentile([7.0], 0.99) == 7
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_a_row_is_measured_against_its_floor_and_its_targets() -> None:
    floor = Row("floor", [1.0] * 300)
    row = Row("path", [2.0] * 296 + [9.0] * 4, floor=floor,
              targets=(Target("p50", 2.0), Target("p99", 10.0)))
    assert row.ratio("p50") == 2.0 and row.ratio("p99") == 9.0
    assert row.passed is True
    assert Row("slow", [2.0] * 300, targets=(Target("p50", 1.5),)).passed is False
    assert Row("no target", [2.0]).passed is None


def test_a_row_with_errors_fails_however_fast_it_was() -> None:
    assert Row("load", [0.1] * 300, targets=(Target("p99", 5.0),), errors=1).passed is False


def test_overhead_is_the_difference_of_percentiles() -> None:
    whole = Row("gateway", [3.0] * 300)
    part = Row("direct", [1.0] * 300)
    overhead = Overhead("overhead", targets=(Target("p50", 0.5),), whole=whole, part=part)
    assert overhead.stat("p50") == 2.0 and overhead.passed is False
    assert overhead.as_json()["p99"] == 2.0


def test_the_report_writes_every_row(tmp_path: Path) -> None:
    rows = [Row("path", [1.0] * 200, floor=Row("floor", [0.5] * 200)),
            Row("idle CPU", value=0.2, unit="% core", targets=(Target("value", 0.5),))]
    assert table(rows).row_count == 2
    write(rows, {"samples": 200}, tmp_path / "results.json")
    written = json.loads((tmp_path / "results.json").read_text())
    assert [row["name"] for row in written["rows"]] == ["path", "idle CPU"]
    assert written["rows"][0]["ratio_p50"] == 2.0
    assert written["rows"][1]["passed"] is True


async def test_open_loop_counts_failures_as_errors() -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise RuntimeError("refused")

    latencies, errors = await open_loop(flaky, per_second=200, seconds=0.1)
    assert len(latencies) + len(errors) == 20 and len(errors) == 10
    assert errors[0] == "RuntimeError: refused"


async def test_the_floor_servers_answer_in_their_own_processes() -> None:
    async with running_floor() as floor:
        async with grpc.aio.insecure_channel(floor.echo_address) as channel:
            echo = echo_stub(channel)
            assert len(await echo(b"3300")) == 3300
            assert len(await closed_loop(lambda: echo(b"155"), 20, warmup=5)) == 20
        pool = ConnectionPool(floor.proxy_address, None)
        try:
            assert len(await pool.get("/proxy?size=5000")) == 5000
            assert await pool.get("/static") == b'{"ok":true}'
        finally:
            pool.close()


async def test_the_fanout_browsers_stamp_every_frame_the_floor_sends_them() -> None:
    async with running_floor() as floor, readers(f"ws://{floor.proxy_address}/ws", 3) as clients:
        await asyncio.sleep(0.2)  # every browser joined the floor's set
        latencies = await floor_fanout_latencies(floor.proxy_address, clients, 500, 1.0,
                                                 interval=0.25)
        assert len(latencies) == 4 * 3  # four frames, each to the three browsers
        assert all(0 <= latency < 1000 for latency in latencies), latencies
        assert funding_frame_size(clients) >= 500


def test_calls_made_side_by_side_count_once_in_the_time_waited() -> None:
    assert covered_ns([(0, 10), (5, 15), (20, 30)]) == 25
    assert covered_ns([(0, 30), (5, 15)]) == 30
    assert covered_ns([]) == 0


def test_a_histograms_mean_is_taken_over_the_workload_alone() -> None:
    before = {"gates": (0.010, 10.0)}
    after = {"gates": (0.030, 20.0), "vault": (0.004, 2.0)}
    assert mean_ms(before, after) == pytest.approx({"gates": 2.0, "vault": 2.0})


def test_the_backtest_year_repeats_the_recorded_hours_and_keeps_their_rates() -> None:
    from bench.backtest_speed import YEAR_HOURS, repeated_year
    from services.backtest.data import BacktestData
    from services.feed.settings import DEFAULT_DATA_DIR

    recorded = BacktestData.load(DEFAULT_DATA_DIR)
    year = repeated_year(recorded)
    start, end = year.window
    assert (end - start).total_seconds() == YEAR_HOURS * 3600
    recorded_hours = recorded.history.window.hours()
    hour = timedelta(hours=1)
    for index in (0, 5, recorded_hours - 1, recorded_hours, 3 * recorded_hours + 7,
                  YEAR_HOURS - 1):
        original = recorded.history.window.start + (index % recorded_hours) * hour
        assert (year.rate("SOL-PERP", start + index * hour).rate_1h
                == recorded.rate("SOL-PERP", original).rate_1h)
