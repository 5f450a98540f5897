"""The real system for the bench: paper mode on the recorded data, every service a process
(tests/kit/system.py), rate limits far above the load, the engine started with a deposit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from dne.engine.v1 import engine_pb2
from services.engine.settings import EngineSettings
from tests.gateway.conftest import UNLIMITED
from tests.integration.flow import request_id
from tests.kit.databases import sqlite_url
from tests.kit.system import RunningSystem, running_system

# Updates every half second, so a fan-out sees several in a few seconds; the default is 5 s.
FAST_TICK = {"TICK_INTERVAL_SEC": "0.5"}
# The engine's own default (the test kit's systems tick faster).
DEFAULT_TICK = {"TICK_INTERVAL_SEC": str(EngineSettings.model_fields["tick_interval_sec"].default)}


@asynccontextmanager
async def paper_system(directory: Path, engine_metrics_port: int,
                       common_env: Mapping[str, str] | None = None, *, fast_tick: bool = True,
                       ) -> AsyncIterator[RunningSystem]:
    """`fast_tick=False`: the engine's default tick, as `make run` runs it (for idle CPU)."""
    engine_env = {**(FAST_TICK if fast_tick else DEFAULT_TICK),
                  "METRICS_PORT": str(engine_metrics_port)}
    async with running_system(directory, sqlite_url(directory), gateway=True,
                              gateway_env=UNLIMITED, engine_env=engine_env,
                              common_env=common_env) as running:
        engine = running.stubs.engine
        started = await engine.StartEngine(engine_pb2.StartEngineRequest(
            request_id=request_id(), mode="paper"))
        if not started.result.ok:
            raise RuntimeError(f"StartEngine failed: {started.result.error}")
        deposited = await engine.Deposit(engine_pb2.DepositRequest(
            request_id=request_id(), amount="5000"))
        if not deposited.result.ok:
            raise RuntimeError(f"Deposit failed: {deposited.result.error}")
        yield running


def pids(running: RunningSystem) -> dict[str, int]:
    return {name: process.pid for name, process in running.system.processes.items()
            if process.pid is not None}
