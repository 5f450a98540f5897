"""Real services under the supervisor: a kill -9 brings them back SERVING on their address."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.launcher.liveness import LivenessPolicy
from services.launcher.supervisor import Supervisor
from services.launcher.topology import start_system
from tests.kit.service_tokens import SERVICE_TOKEN_ENV

pytestmark = pytest.mark.integration


def restart_total(service: str) -> float:
    return REGISTRY.get_sample_value("dne_service_restarts_total", {"service": service}) or 0.0


async def test_a_killed_feed_and_vault_serve_again_on_their_addresses_within_seconds(
    tmp_path: Path,
) -> None:
    system = await start_system(
        tmp_path / "log",
        env={"LOG_FORMAT": "text", "DNE_IMPORT_DIR": str(tmp_path / "history"),
             "DATABASE_URL": f"sqlite:///{tmp_path / 'vault.db'}",
             **SERVICE_TOKEN_ENV},
        services=("feed", "vault"),
    )
    before = {name: restart_total(name) for name in ("feed", "vault")}
    recovery: dict[str, float] = {}
    try:
        async with Supervisor(system) as supervisor:
            for name in ("feed", "vault"):
                address = system.address(name)
                killed_at = time.monotonic()
                system.processes[name].kill()
                restart = await supervisor.wait_restarted(name, 1, timeout=15)
                recovery[name] = restart.serving_at - killed_at
                assert restart.address == address == system.address(name)
                assert restart.exit == "killed by SIGKILL"
            async with grpc.aio.insecure_channel(system.address("feed")) as channel:
                reply = await feed_pb2_grpc.FeedServiceStub(channel).ListFundingMarkets(
                    feed_pb2.ListFundingMarketsRequest(), timeout=10)
            assert any(market.symbol == "SOL-PERP" for market in reply.markets)
    finally:
        await system.stop()
    print(f"kill -9 to SERVING again: {recovery}")
    # The first restart waits 0.5 s; the rest is the service's own start-up.
    assert all(0.5 <= seconds < 10 for seconds in recovery.values()), recovery
    assert {name: restart_total(name) - before[name] for name in before} == {"feed": 1, "vault": 1}


async def test_a_feed_that_answers_nothing_is_killed_and_serves_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """SIGSTOP: the process runs, its port accepts, nothing answers (a stuck event loop)."""
    system = await start_system(
        tmp_path / "log", env={"LOG_FORMAT": "text", "DNE_IMPORT_DIR": str(tmp_path / "h")},
        services=("feed",),
    )
    feed = system.processes["feed"]
    before = REGISTRY.get_sample_value("dne_service_hung_kills_total", {"service": "feed"}) or 0
    liveness = LivenessPolicy(interval=0.2, timeout=0.5, misses=3)
    try:
        async with Supervisor(system, liveness=liveness) as supervisor:
            await asyncio.sleep(1.0)   # answered probes: nothing happens
            assert supervisor.restarts("feed") == []
            stuck = feed.pid
            assert stuck is not None
            os.kill(stuck, signal.SIGSTOP)
            stopped_at = time.monotonic()
            restart = await supervisor.wait_restarted("feed", 1, timeout=20)
            assert restart.exit == "killed by SIGKILL"
            assert feed.pid != stuck
            back_in = restart.serving_at - stopped_at
    finally:
        await system.stop()
    print(f"stuck feed killed and SERVING again after {back_in:.1f} s")
    # Three misses of 0.5 s at 0.2 s intervals, the 0.5 s restart delay, the feed's start.
    assert 1.5 < back_in < 15
    assert REGISTRY.get_sample_value(
        "dne_service_hung_kills_total", {"service": "feed"}) == before + 1
    assert "feed did not answer its health check 3 times in a row" in caplog.text
