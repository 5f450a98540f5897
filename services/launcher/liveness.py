"""A service that is running but answers nothing (a stuck event loop, a deadlock, a SIGSTOP)
is killed, so that the supervisor starts it again, as the kubelet's liveness probe would.

Any answer counts as alive, NOT_SERVING and 503 included: the service is up and says why. Only
a probe that gets no answer in time is a miss, and only several misses in a row, while the
process is up and not starting or stopping, kill it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.launcher.metrics import SERVICE_HUNG_KILLS
from services.launcher.processes import ServiceProcess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LivenessPolicy:
    interval: float = 5.0   # seconds between probes
    timeout: float = 5.0    # a probe unanswered this long is a miss
    misses: int = 3         # misses in a row that kill the service


class LivenessProbe:
    """Probes one service the way its readiness was checked: gRPC health or GET /health."""

    def __init__(self, process: ServiceProcess, timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._http: httpx.AsyncClient | None = None

    async def answers(self) -> bool:
        address = self.process.address
        if address is None:
            return False
        try:
            if self.process.readiness == "http":
                self._http = self._http or httpx.AsyncClient(timeout=self.timeout)
                await self._http.get(f"http://{address}/health")
            else:
                # One channel for the service's life: it reconnects by itself after a restart.
                self._channel = self._channel or grpc.aio.insecure_channel(address)
                await health_pb2_grpc.HealthStub(self._channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=self.timeout)
        except (grpc.aio.AioRpcError, httpx.HTTPError):
            return False
        return True

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        if self._http is not None:
            await self._http.aclose()


async def kill_when_hung(process: ServiceProcess, policy: LivenessPolicy) -> None:
    """Runs until cancelled."""
    probe = LivenessProbe(process, policy.timeout)
    misses = 0
    try:
        while True:
            await asyncio.sleep(policy.interval)
            if not process.running or process.stop_requested or process.serving_since is None:
                misses = 0   # stopped, stopping, or starting: the supervisor's business
                continue
            misses = 0 if await probe.answers() else misses + 1
            if misses >= policy.misses and process.running and not process.stop_requested:
                log.error("%s did not answer its health check %d times in a row (%.0f s "
                          "each); killing it so that it is started again",
                          process.name, misses, policy.timeout)
                SERVICE_HUNG_KILLS.labels(service=process.name).inc()
                process.kill()
                misses = 0
    finally:
        await probe.close()
