"""BacktestService on the real engine process: progress then the report, refusals as gRPC
statuses with their code, one run at a time, a cancelled run's worker killed, and the engine
answering while a backtest runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import pytest
import pytest_asyncio

from dne.backtest.v1 import backtest_pb2 as B
from dne.backtest.v1 import backtest_pb2_grpc
from dne.engine.v1 import engine_pb2
from services.common.grpc_client import open_channel
from tests.kit.databases import sqlite_url
from tests.kit.system import RunningSystem, running_system

pytestmark = pytest.mark.integration

YEAR_OF_ROTATE = B.RunBacktestRequest(strategy="rotate", start="2026-01-10", end="2026-03-24",
                                      capital="20000", include_held_rates=True,
                                      random_walk=True, random_walk_seed=3)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("backtest")
    async with running_system(var, sqlite_url(var)) as running:
        yield running


def workers() -> list[str]:
    found = subprocess.run(["pgrep", "-f", "services.backtest.worker"], capture_output=True,
                           text=True)
    return found.stdout.split()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_backtest_streams_its_progress_then_its_report(system: RunningSystem) -> None:
    answers = [answer async for answer in system.stubs.backtest.RunBacktest(
        B.RunBacktestRequest(strategy="hold", start="2026-02-01", end="2026-02-08",
                             market="BTC-PERP", side="short", size="0.1", capital="20000"),
        timeout=60)]
    progress = [a.progress for a in answers if a.HasField("progress")]
    assert progress and progress[-1].hours_done == progress[-1].hours_total == 7 * 24
    report = json.loads(answers[-1].report_json)
    assert report["strategy"] == "hold" and len(report["ledger"]) == 7 * 24
    assert Decimal(report["funding_pnl_usd"]) == sum(
        Decimal(row["funding_usd"]) for row in report["ledger"]).quantize(Decimal("0.000001"))


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("request_, code, words", [
    (B.RunBacktestRequest(strategy="hold", start="2025-01-01", end="2025-02-01"),
     "INVALID_ARGUMENT", "recorded data runs from 2026-01-10"),
    (B.RunBacktestRequest(strategy="nope", start="2026-02-01", end="2026-02-02"),
     "INVALID_ARGUMENT", "invalid choice"),
    (B.RunBacktestRequest(strategy="hold", start="2026-02-01", end="2026-02-02", size="1e999"),
     "INVALID_ARGUMENT", "out of range"),
    (B.RunBacktestRequest(strategy="hold", start="2026-02-01", end="2026-02-02",
                          market="BTC-PERP", size="5", capital="1000"),
     "FAILED_PRECONDITION", "INSUFFICIENT_COLLATERAL"),
])
async def test_refusals_are_statuses_with_their_code(system: RunningSystem, request_,  # type: ignore[no-untyped-def]
                                                    code: str, words: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in system.stubs.backtest.RunBacktest(request_, timeout=60):
            pass
    assert refused.value.code().name == code and words in refused.value.details()
    assert refused.value.trailing_metadata()["dne-error-code"] == code


@pytest.mark.asyncio(loop_scope="module")
async def test_without_the_api_token_a_backtest_is_refused(system: RunningSystem) -> None:
    async with open_channel(system.system.address("engine")) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in backtest_pb2_grpc.BacktestServiceStub(channel).RunBacktest(
                    YEAR_OF_ROTATE, timeout=10):
                pass
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.asyncio(loop_scope="module")
async def test_one_at_a_time_the_engine_answers_meanwhile_and_a_cancel_kills_the_worker(
    system: RunningSystem,
) -> None:
    running = system.stubs.backtest.RunBacktest(YEAR_OF_ROTATE, timeout=60)
    first = await running.read()
    assert first.HasField("progress")
    with pytest.raises(grpc.aio.AioRpcError) as busy:
        async for _ in system.stubs.backtest.RunBacktest(YEAR_OF_ROTATE, timeout=10):
            pass
    assert busy.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    started = time.perf_counter()
    status = await system.stubs.engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest(),
                                                       timeout=5)
    assert status.status is not None and time.perf_counter() - started < 0.5
    assert workers()
    running.cancel()
    for _ in range(50):
        if not workers():
            break
        await asyncio.sleep(0.1)
    assert workers() == []
    # The slot is free again.
    answers = [a async for a in system.stubs.backtest.RunBacktest(
        B.RunBacktestRequest(strategy="carry", start="2026-02-01", end="2026-02-02",
                             size="1", capital="1000"), timeout=60)]
    assert json.loads(answers[-1].report_json)["strategy"] == "carry"
