"""GetBackendHealth: the executor's and the vault's gRPC health and the venue's status, read
over the engine's own channels, so the internet-facing gateway needs no channel to either.

One probe (two health checks and one GetVenueStatus) serves every caller for `keep_seconds`
(a quarter of it while something does not serve), and is taken again at once when a channel
to the executor or the vault changes state: a flood of /health at the gateway costs the
executor at most one venue read per period, and a killed backend shows at the next request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dne.engine.v1 import engine_pb2 as E
from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from services.common.probe_cache import ProbeCache

UNAVAILABLE = "UNAVAILABLE"
SERVING = "SERVING"
# Within the gateway's 2 s wait for the engine's answer, with time to spare.
HEALTH_CALL_TIMEOUT_SEC = 1.5


class BackendHealth:
    def __init__(
        self, executor_channel: grpc.aio.Channel, vault_channel: grpc.aio.Channel, *,
        keep_seconds: float, timeout: float,
    ) -> None:
        self._executor = executor_pb2_grpc.ExecutorServiceStub(executor_channel)
        self._executor_health = health_pb2_grpc.HealthStub(executor_channel)
        self._vault_health = health_pb2_grpc.HealthStub(vault_channel)
        self._timeout = timeout
        channels: Sequence[grpc.aio.Channel] = (executor_channel, vault_channel)
        self._cache = ProbeCache(
            self._probe,
            keep_seconds=lambda reply: keep_seconds if _all_serving(reply) else keep_seconds / 4,
            channel_states=lambda: [channel.get_state() for channel in channels])

    async def get(self) -> E.GetBackendHealthResponse:
        return await self._cache.get()

    async def _probe(self) -> E.GetBackendHealthResponse:
        executor, vault, venue = await asyncio.gather(
            self._serving(self._executor_health), self._serving(self._vault_health),
            self._venue())
        return E.GetBackendHealthResponse(executor=executor, vault=vault, venue=venue)

    async def _serving(self, health: health_pb2_grpc.HealthStub) -> str:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""),
                                       timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return UNAVAILABLE
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def _venue(self) -> E.VenueHealth:
        try:
            reply = await self._executor.GetVenueStatus(executor_pb2.GetVenueStatusRequest(),
                                                        timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return E.VenueHealth(connected=False)
        return E.VenueHealth(connected=reply.connected, venue=reply.venue,
                             latency_ms=reply.latency_ms)


def _all_serving(reply: E.GetBackendHealthResponse) -> bool:
    return reply.executor == SERVING and reply.vault == SERVING and reply.venue.connected
