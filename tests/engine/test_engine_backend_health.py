"""GetBackendHealth: the executor's and the vault's status read over the engine's channels, one
probe shared by every caller, so the gateway's /health cannot make the engine amplify venue
reads."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from services.engine.backend_health import BackendHealth
from services.engine.servicer import EngineServicer
from tests.kit.engine_fakes import EngineHarness


class CountingExecutor(executor_pb2_grpc.ExecutorServiceServicer):
    def __init__(self, calls: Counter[str]) -> None:
        self.calls = calls

    async def GetVenueStatus(self, request, context):  # type: ignore[no-untyped-def]
        self.calls["GetVenueStatus"] += 1
        await asyncio.sleep(0.02)
        return executor_pb2.GetVenueStatusResponse(connected=True, venue="paper", latency_ms=3.5)


async def serve(register) -> tuple[grpc.aio.Server, str]:  # type: ignore[no-untyped-def]
    server = grpc.aio.server()
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture
async def backends() -> AsyncIterator[tuple[Counter[str], str, str]]:
    """An executor (health and venue status) and a vault (health, NOT_SERVING)."""
    calls: Counter[str] = Counter()

    def executor(server: grpc.aio.Server) -> None:
        executor_pb2_grpc.add_ExecutorServiceServicer_to_server(CountingExecutor(calls), server)
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)

    vault_health = health.aio.HealthServicer()
    await vault_health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    executor_server, executor_address = await serve(executor)
    vault_server, vault_address = await serve(
        lambda server: health_pb2_grpc.add_HealthServicer_to_server(vault_health, server))
    yield calls, executor_address, vault_address
    await executor_server.stop(0)
    await vault_server.stop(0)


async def test_a_hundred_concurrent_asks_cost_the_executor_one_venue_read(harness: EngineHarness,
                                                                          backends) -> None:
    calls, executor_address, vault_address = backends
    async with (grpc.aio.insecure_channel(executor_address) as executor,
                grpc.aio.insecure_channel(vault_address) as vault):
        health_of_backends = BackendHealth(executor, vault, keep_seconds=1.0, timeout=1.0)
        server, address = await serve(lambda server: (
            engine_pb2_grpc.add_EngineServiceServicer_to_server(
                EngineServicer(harness.engine, health_of_backends), server)))  # type: ignore[arg-type]
        try:
            async with grpc.aio.insecure_channel(address) as channel:
                stub = engine_pb2_grpc.EngineServiceStub(channel)
                replies = await asyncio.gather(*(
                    stub.GetBackendHealth(E.GetBackendHealthRequest()) for _ in range(100)))
        finally:
            await server.stop(0)
    assert calls["GetVenueStatus"] == 1
    assert {reply.executor for reply in replies} == {"SERVING"}
    assert {reply.vault for reply in replies} == {"NOT_SERVING"}
    assert replies[0].venue == E.VenueHealth(connected=True, venue="paper", latency_ms=3.5)


async def test_an_executor_that_does_not_answer_is_unavailable_and_its_venue_not_connected(
    backends,
) -> None:
    _, _, vault_address = backends
    async with (grpc.aio.insecure_channel("127.0.0.1:1") as nowhere,
                grpc.aio.insecure_channel(vault_address) as vault):
        reply = await BackendHealth(nowhere, vault, keep_seconds=1.0, timeout=1.0).get()
    assert reply.executor == "UNAVAILABLE"
    assert reply.venue == E.VenueHealth(connected=False)
