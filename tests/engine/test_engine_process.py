"""The real engine process (python -m services.engine) against in-process fake feed, executor
and vault gRPC servers: it reports SERVING, starts in paper mode, trades and streams."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from services.common.clock import ManualClock
from services.launcher.processes import ServiceProcess
from tests.kit.engine_fakes import START, FakeExecutor, FakeFeed, FakeVault, serve_fakes
from tests.kit.service_tokens import ENGINE_TOKENS_ENV, engine_channel


@pytest.mark.integration
async def test_the_engine_process_serves_health_and_runs_a_paper_session(tmp_path: Path) -> None:
    clock = ManualClock(START)
    feed = FakeFeed(clock)
    executor = FakeExecutor(feed)
    vault = FakeVault(clock)
    server, address = await serve_fakes(feed, executor, vault)
    process = ServiceProcess("engine", {
        "PORT": "0", "FEED_ADDRESS": address, "EXECUTOR_ADDRESS": address,
        "VAULT_ADDRESS": address, "TICK_INTERVAL_SEC": "0.1", "LOG_FORMAT": "text",
        **ENGINE_TOKENS_ENV,
    }, tmp_path / "engine.log")
    try:
        engine_address = await process.start(timeout=30)
        async with engine_channel(engine_address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="dne.engine.v1.EngineService"))
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            stub = engine_pb2_grpc.EngineServiceStub(channel)
            started = await stub.StartEngine(E.StartEngineRequest(request_id="s", mode="paper"))
            assert started.result.ok, started.result.error
            deposit = await stub.Deposit(E.DepositRequest(request_id="d", amount="500"))
            assert deposit.result.ok, deposit.result.error
            assert executor.sub(0).quote == Decimal(500)
            assert vault.trades["d"].status == 2  # FILLED, recorded through real gRPC
            updates = stub.StreamEvents(E.StreamEventsRequest(
                types=[E.EVENT_TYPE_FUNDING_UPDATE]))
            first = await asyncio.wait_for(updates.read(), timeout=5)
            assert first.event.funding_update.total_collateral == "500"
            updates.cancel()
            stopped = await stub.StopEngine(E.StopEngineRequest(request_id="x"))
            assert stopped.result.ok and not stopped.status.running
        assert await process.stop() == 0
    finally:
        await process.stop()
        await server.stop(0)
    log = (tmp_path / "engine.log").read_text()
    assert "trade executed" in log


@pytest.mark.integration
async def test_defect2_sigterm_mid_entry_lets_the_hedge_finish_before_the_process_exits(
    tmp_path: Path,
) -> None:
    """Issue 9, defect 2: SIGTERM while the short of a hedged entry is on its way. The engine
    waits for the command to end before closing its channels: spot bought AND short sold."""
    clock = ManualClock(START)
    feed = FakeFeed(clock)
    executor = FakeExecutor(feed)
    vault = FakeVault(clock)
    reached, release = asyncio.Event(), asyncio.Event()
    real_open = executor.OpenPosition

    async def held_open(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        reached.set()
        await release.wait()
        return await real_open(request, context, **kwargs)

    executor.OpenPosition = held_open  # type: ignore[method-assign]
    server, address = await serve_fakes(feed, executor, vault)
    process = ServiceProcess("engine", {
        "PORT": "0", "FEED_ADDRESS": address, "EXECUTOR_ADDRESS": address,
        "VAULT_ADDRESS": address, "TICK_INTERVAL_SEC": "3600", "LOG_FORMAT": "text",
        **ENGINE_TOKENS_ENV,
    }, tmp_path / "engine.log")
    try:
        engine_address = await process.start(timeout=30)
        async with engine_channel(engine_address) as channel:
            stub = engine_pb2_grpc.EngineServiceStub(channel)
            assert (await stub.StartEngine(E.StartEngineRequest(request_id="s",
                                                                mode="paper"))).result.ok
            assert (await stub.Deposit(E.DepositRequest(request_id="d", amount="2000"))).result.ok
            order = {"request_id": "carry", "market": "SOL-PERP", "direction": "short",
                     "size": "2"}
            quote = (await stub.OpenPosition(E.OpenPositionRequest(**order))).result.confirmation
            entry = asyncio.ensure_future(stub.OpenPosition(E.OpenPositionRequest(
                **order, confirmation_id=quote.confirmation_id), timeout=30))
            await asyncio.wait_for(reached.wait(), timeout=10)
            stopping = asyncio.ensure_future(process.stop(timeout=20))
            await asyncio.sleep(0.5)  # the signal is in; the command is still on its way
            release.set()
            assert await stopping == 0
            entry.cancel()
        assert vault.trades["carry:spot"].status == 2
        assert vault.trades["carry"].status == 2  # FILLED: the short reached the venue
        assert executor.sub(0).positions["SOL-PERP"].size == Decimal(-2)
    finally:
        release.set()
        await process.stop()
        await server.stop(0)
