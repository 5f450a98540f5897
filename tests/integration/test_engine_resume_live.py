"""Issue 10 in live mode against the local Solana stand-ins, on Drift and on Velocity: a killed
engine resumes by itself when the venue, the vault and its state agree, and stays stopped with a
CRITICAL alert when the venue holds a position the vault does not know."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from dne.executor.v1 import executor_pb2
from tests.integration.flow import request_id, wait_for
from tests.kit.databases import sqlite_url
from tests.kit.system import RunningSystem, running_system

FAST_CONFIRMATION = {"CONFIRM_WAIT_SECONDS": "1", "CONFIRM_POLL_SECONDS": "0.5",
                     "CONFIRM_POLL_TOTAL_SECONDS": "2"}


async def kill_engine(running: RunningSystem) -> None:
    process = running.system.processes["engine"]
    process.kill()
    await process.wait()


async def restarted_engine_status(running: RunningSystem) -> engine_pb2.EngineStatus:
    """Restarts the killed engine; its status once the resume has ended either way."""
    await running.system.processes["engine"].restart()
    async with grpc.aio.insecure_channel(running.system.address("engine")) as channel:
        engine = engine_pb2_grpc.EngineServiceStub(channel)

        async def resume_ended() -> engine_pb2.EngineStatus | None:
            reply = await engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest())
            resuming = reply.status.blocked_reason.startswith("resuming after a restart")
            return None if resuming else reply.status

        return await wait_for(resume_ended, timeout=20)  # type: ignore[no-any-return]


@pytest.mark.parametrize("venue", ["drift", "velocity"])
async def test_live_resumes_when_clean_and_refuses_a_position_the_vault_does_not_know(
    tmp_path: Path, venue: str
) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path), live_sim=True,
                              common_env={"VENUE_PROFILE": venue},
                              executor_env=FAST_CONFIRMATION) as running:
        stubs = running.stubs
        started = await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="live"))
        assert started.result.ok, started.result.error
        deposit = await stubs.engine.Deposit(engine_pb2.DepositRequest(
            request_id=request_id(), amount="2000"))
        assert deposit.result.ok, deposit.result.error

        await kill_engine(running)
        status = await restarted_engine_status(running)
        assert status.running and status.mode == "live", status.blocked_reason

        await kill_engine(running)
        # A short opened outside the engine while it was down.
        outside = await stubs.executor.OpenPosition(executor_pb2.OpenPositionRequest(
            client_order_id=str(uuid.uuid4()), market="SOL-PERP",
            side=common_pb2.SIDE_SHORT, size="0.5"))
        assert outside.result.status == common_pb2.TRADE_STATUS_FILLED, outside.result
        status = await restarted_engine_status(running)
        assert not status.running and not status.trading_enabled
        assert "live resume refused" in status.blocked_reason
        assert "SOL-PERP short 0.5" in status.blocked_reason
