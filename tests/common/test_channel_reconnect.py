"""A channel from open_channel finds a peer that was killed -9 and restarted on the same port
within about a second of it serving again, and fails calls at once while the peer is away.

Shown on the vault (the quickest service to start) as a real process. The peer stays away for
5 s: by then gRPC's default backoff (1 s, x1.6, up to 120 s) has stretched to 4 s between
attempts, so a channel with the defaults would mostly find it seconds late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.grpc_client import open_channel
from services.launcher.processes import ServiceProcess
from tests.kit.databases import sqlite_url
from tests.kit.ports import free_port
from tests.kit.service_tokens import SERVICE_TOKEN_ENV

pytestmark = pytest.mark.integration

AWAY_SECONDS = 5.0
RECONNECTED_WITHIN = 1.5   # the 1 s backoff cap, its 20 % jitter, and slack for a busy machine


@pytest_asyncio.fixture
async def vault(tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(
        "vault", {"PORT": str(free_port()), "DATABASE_URL": sqlite_url(tmp_path),
                  "LOG_FORMAT": "text", **SERVICE_TOKEN_ENV},
        tmp_path / "vault.log")
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


async def check(stub: health_pb2_grpc.HealthStub, timeout: float) -> bool:
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
    except grpc.aio.AioRpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_channel_reaches_a_peer_restarted_on_its_port_within_a_second_and_a_half(
    vault: ServiceProcess,
) -> None:
    address = vault.address
    assert address is not None
    async with open_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        assert await check(stub, timeout=5)

        vault.kill()
        await vault.wait()
        away_since = time.monotonic()
        # Calls while the peer is away fail at once: nothing waits for it to come back.
        failures = []
        while time.monotonic() - away_since < AWAY_SECONDS:
            started = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
            failures.append((raised.value.code(), time.monotonic() - started))
            await asyncio.sleep(0.25)

        await vault.start()      # the same PORT: the same address
        assert vault.address == address
        back = time.monotonic()  # a fresh channel has seen it SERVING
        while not await check(stub, timeout=0.2):
            assert time.monotonic() - back < 10, "the channel never found the restarted peer"
            await asyncio.sleep(0.02)
        reconnected_after = time.monotonic() - back

    assert {code for code, _ in failures} == {grpc.StatusCode.UNAVAILABLE}
    assert max(seconds for _, seconds in failures) < 0.5
    print(f"channel reconnected {reconnected_after:.3f} s after the peer served again")
    assert reconnected_after < RECONNECTED_WITHIN
