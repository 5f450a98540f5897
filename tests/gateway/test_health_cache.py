"""/health is answered from one shared, short-lived probe of the backends: a flood of requests
costs the backends a bounded number of calls, and a caller without the token learns only
whether the system is healthy."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import httpx
from grpc_health.v1 import health_pb2

from dne.engine.v1 import engine_pb2
from dne.feed.v1 import feed_pb2
from services.gateway.app import create_app
from services.gateway.routes import HealthCache
from services.gateway.settings import GatewaySettings

TOKEN = "health-cache-test-token"
# Each backend serves one call at a time, each taking this long (the venue read included):
# 500 uncached probes would queue for 10 s behind each of them.
BACKEND_LATENCY_SEC = 0.02


class QuietStream:
    """An engine event stream that says nothing until it is cancelled."""

    async def initial_metadata(self) -> tuple:
        return ()

    def __aiter__(self) -> QuietStream:
        return self

    async def __anext__(self) -> Any:
        await asyncio.Event().wait()

    def cancel(self) -> None:
        pass


class CountingBackends:
    """The five calls of a health probe, each answering after BACKEND_LATENCY_SEC; an engine
    whose event stream stays quiet. The gateway holds no stub for the executor or the vault:
    the engine's GetBackendHealth reports them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        serving = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
        self.health = {name: SimpleNamespace(Check=self._answer(f"{name}.Check", serving))
                       for name in ("feed", "engine")}
        self.feed = SimpleNamespace(ListFundingMarkets=self._answer(
            "ListFundingMarkets", feed_pb2.ListFundingMarketsResponse()))
        self.engine = SimpleNamespace(GetEngineStatus=self._answer(
            "GetEngineStatus", engine_pb2.GetEngineStatusResponse()),
            GetBackendHealth=self._answer("GetBackendHealth", engine_pb2.GetBackendHealthResponse(
                executor="SERVING", vault="SERVING",
                venue=engine_pb2.VenueHealth(connected=True, venue="paper", latency_ms=0.0))),
            StreamEvents=lambda request, **options: QuietStream())
        self.channels: list[Any] = []

    def _answer(self, name: str, reply: Any) -> Any:
        one_at_a_time = asyncio.Lock()

        async def call(request: Any, **options: Any) -> Any:
            self.calls[name] += 1
            async with one_at_a_time:
                await asyncio.sleep(BACKEND_LATENCY_SEC)
            return reply
        return call

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def gateway_app(backends: CountingBackends, **settings: Any) -> httpx.AsyncClient:
    app = create_app(GatewaySettings(DNE_API_TOKEN=TOKEN, **settings), backends)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def flood(client: httpx.AsyncClient, total: int, concurrency: int) -> list[float]:
    """`total` GET /health, `concurrency` at a time; answers each one's latency."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            reply = await client.get("/health")
            latencies.append(time.perf_counter() - started)
            assert reply.status_code == 200, reply.text

    await asyncio.gather(*(one() for _ in range(total)))
    return sorted(latencies)


async def test_500_health_requests_50_at_a_time_cost_the_backends_one_probe():
    backends = CountingBackends()
    async with gateway_app(backends, RATE_LIMIT_HEALTH="100000/second") as client:
        latencies = await flood(client, 500, 50)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"\n/health x500, 50 at a time: {backends.total} backend calls, "
          f"p99 {p99 * 1000:.1f} ms")
    # The flood lasts well under the 2 s the answer is kept: one probe, five calls.
    assert backends.total == 5, backends.calls
    # Uncached, each backend would serve 500 calls one at a time: 10 s of work per backend.
    assert p99 < 1.5


async def test_the_probe_is_taken_again_once_its_answer_is_older_than_the_cache_time():
    backends = CountingBackends()
    async with gateway_app(backends, HEALTH_CACHE_SEC="0.1",
                           RATE_LIMIT_HEALTH="100000/second") as client:
        await client.get("/health")
        await client.get("/health")
        assert backends.total == 5
        await asyncio.sleep(0.15)
        await client.get("/health")
    assert backends.total == 10


async def test_without_the_token_health_says_only_healthy_or_degraded():
    async with gateway_app(CountingBackends()) as client:
        reply = await client.get("/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "healthy"}


async def test_with_the_token_health_reports_every_backend_and_the_venue():
    async with gateway_app(CountingBackends()) as client:
        reply = await client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "healthy"
    assert body["engines"]["vault"]["status"] == "SERVING"
    assert body["engines"]["venue"] == {"connected": True, "venue": "paper", "latency_ms": 0.0}


async def test_a_wrong_token_on_health_is_refused_and_not_echoed():
    async with gateway_app(CountingBackends()) as client:
        reply = await client.get("/health", headers={"Authorization": "Bearer wrong-token-1234"})
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "UNAUTHORIZED"
    assert "wrong-token-1234" not in reply.text


async def test_health_is_rate_limited_per_client():
    async with gateway_app(CountingBackends(), RATE_LIMIT_HEALTH="5/second") as client:
        codes = [(await client.get("/health")).status_code for _ in range(8)]
        limited = await client.get("/health")
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def counting_probe(statuses: list[str]) -> tuple[list[int], Any]:
    taken = [0]

    async def probe() -> dict[str, Any]:
        taken[0] += 1
        await asyncio.sleep(0.01)
        return {"status": statuses[min(taken[0], len(statuses)) - 1]}
    return taken, probe


async def test_concurrent_requests_share_one_probe():
    taken, probe = counting_probe(["healthy"])
    cache = HealthCache(probe, healthy_seconds=2, degraded_seconds=0.25, clock=Clock())
    bodies = await asyncio.gather(*(cache.get() for _ in range(50)))
    assert taken == [1] and all(body == {"status": "healthy"} for body in bodies)


async def test_a_degraded_answer_is_kept_a_shorter_time_than_a_healthy_one():
    clock = Clock()
    taken, probe = counting_probe(["degraded", "healthy", "healthy"])
    cache = HealthCache(probe, healthy_seconds=2, degraded_seconds=0.25, clock=clock)
    assert (await cache.get())["status"] == "degraded"
    clock.now = 0.3
    assert (await cache.get())["status"] == "healthy"
    clock.now = 2.0
    await cache.get()
    assert taken == [2]
    clock.now = 2.31
    await cache.get()
    assert taken == [3]


async def test_a_backend_channel_changing_state_takes_the_probe_again_at_once():
    states = ["READY"]
    taken, probe = counting_probe(["healthy", "degraded"])
    cache = HealthCache(probe, healthy_seconds=2, degraded_seconds=0.25, clock=Clock(),
                        channel_states=lambda: list(states))
    await cache.get()
    states[0] = "IDLE"     # the backend's connection dropped
    assert (await cache.get())["status"] == "degraded"
    assert taken == [2]


async def test_a_caller_that_gives_up_does_not_cancel_the_probe_of_the_others():
    taken, probe = counting_probe(["healthy"])
    cache = HealthCache(probe, healthy_seconds=2, degraded_seconds=0.25, clock=Clock())
    impatient = asyncio.create_task(cache.get())
    patient = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    impatient.cancel()
    assert (await patient) == {"status": "healthy"}
    assert taken == [1]

