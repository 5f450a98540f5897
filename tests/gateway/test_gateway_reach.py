"""The internet-facing gateway reaches the feed and the engine only: its settings, the
launcher's wiring and its sockets hold no executor or vault, and /health learns their state
from the engine's GetBackendHealth."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import psutil
import pytest

from services.gateway.clients import BackendClients
from services.gateway.settings import GatewaySettings
from services.launcher.topology import System, wiring_env
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import auth_headers
from tests.kit.system import RunningSystem, kill_9, restart_on, running_system

# The gateway keeps a healthy answer 2 s, the engine its probe of the executor 1 s, and the
# engine's channel to a killed executor changes state at once: degraded well within this.
SHOWS_WITHIN_SEC = 3.5


def test_the_gateways_settings_and_clients_name_no_executor_or_vault():
    fields = set(GatewaySettings.model_fields)
    assert not {"executor_address", "vault_address"} & fields
    assert not {"executor", "vault"} & set(BackendClients.__dataclass_fields__)


def test_the_launcher_gives_the_gateway_only_the_feeds_and_the_engines_address():
    system = System({name: SimpleNamespace(address=f"127.0.0.1:{port}")  # type: ignore[misc]
                     for name, port in (("feed", 1), ("vault", 2), ("executor", 3),
                                        ("engine", 4))})
    assert set(wiring_env("gateway", system, {})) == {"PORT", "FEED_ADDRESS", "ENGINE_ADDRESS"}
    assert {"EXECUTOR_ADDRESS", "VAULT_ADDRESS"} <= set(wiring_env("engine", system, {}))


async def health(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/health", headers=auth_headers())


async def wait_for_executor(client: httpx.AsyncClient, serving: bool) -> tuple[float, dict]:
    """Polls /health until the executor is (or is not) SERVING; answers how long it took."""
    started = time.monotonic()
    while True:
        reply = await health(client)
        body = reply.json()
        if (body["engines"]["executor"]["status"] == "SERVING") == serving:
            return time.monotonic() - started, body
        assert time.monotonic() - started < 10, body
        await asyncio.sleep(0.1)


def peer_ports(pid: int) -> set[int]:
    return {connection.raddr.port for connection in psutil.Process(pid).connections("tcp")
            if connection.raddr}


def port_of(system: RunningSystem, name: str) -> int:
    return int(system.system.address(name).rsplit(":", 1)[1])


@pytest.mark.integration
async def test_a_killed_executor_shows_on_health_through_the_engine(tmp_path):
    async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True) as system:
        gateway_pid = system.system.processes["gateway"].pid
        assert gateway_pid is not None
        environ = psutil.Process(gateway_pid).environ()
        assert "EXECUTOR_ADDRESS" not in environ and "VAULT_ADDRESS" not in environ
        executor = system.system.processes["executor"]
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
            before = await health(client)
            # The gateway holds no connection to the executor or the vault.
            assert not {port_of(system, "executor"), port_of(system, "vault")} & peer_ports(
                gateway_pid)
            address = await kill_9(executor)
            took, down = await wait_for_executor(client, serving=False)
            degraded = await health(client)
            await restart_on(executor, address)
            _, back = await wait_for_executor(client, serving=True)
    assert before.status_code == 200 and before.json()["status"] == "healthy"
    assert before.json()["engines"]["venue"]["connected"] is True
    assert took < SHOWS_WITHIN_SEC, f"the killed executor showed after {took:.2f} s"
    assert down["engines"]["executor"]["status"] == "UNAVAILABLE"
    assert down["engines"]["vault"]["status"] == "SERVING"
    assert down["engines"]["venue"] == {"connected": False, "venue": "", "latency_ms": 0.0}
    assert down["status"] == "degraded" and degraded.status_code == 503
    assert back["engines"]["venue"]["connected"] is True
