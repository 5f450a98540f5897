"""Issue 10 with real processes: a service killed -9 and restarted on its port is found again by
every client by itself. The gateway follows the engine's events again and says so to the
browsers that stayed connected, /health is 503 while a backend is away and 200 again within a
second or so of it serving, and the engine's channels reach a restarted executor."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.gateway.conftest import UNLIMITED
from tests.integration.flow import wait_for
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import Browser, auth_headers, browser
from tests.kit.system import RunningSystem, kill_9, restart_on, running_system

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# From the peer serving again (a fresh channel saw SERVING) to the client being back: the
# channels retry at least every second (plus 20 % jitter); the rest is slack for a busy machine.
BACK_WITHIN = 2.0


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    directory = tmp_path_factory.mktemp("reconnect")
    async with running_system(directory, sqlite_url(directory), gateway=True,
                              gateway_env=UNLIMITED) as running:
        yield running


async def health(system: RunningSystem) -> httpx.Response:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        return await client.get("/health", headers=auth_headers())


async def healthy_after(system: RunningSystem, since: float) -> float:
    async def ok() -> bool:
        return (await health(system)).status_code == 200

    await wait_for(ok, timeout=15, interval=0.05)
    return time.monotonic() - since


async def running_engine(page: Browser) -> None:
    """The engine may or may not resume by itself after a restart: start it when it did not."""
    result = (await page.command("START_ENGINE", {"mode": "paper"}))["payload"]
    assert result["ok"] or result["error"]["code"] == "ENGINE_ALREADY_RUNNING", result
    mark = len(page.messages)
    await page.wait_for(lambda m: m["type"] == "FUNDING_UPDATE", timeout=5, after=mark)


async def test_after_an_engine_restart_the_gateway_follows_it_again_and_tells_the_browsers(
    system: RunningSystem,
) -> None:
    engine = system.system.processes["engine"]
    async with browser(system) as page:
        await running_engine(page)
        before = len(page.messages)

        address = await kill_9(engine)
        killed = time.monotonic()
        stamp, lost = await page.wait_for(lambda m: m["type"] == "ERROR", after=before)
        assert lost["payload"]["code"] == "ENGINE_UNAVAILABLE"
        assert "reconnecting" in lost["payload"]["message"]
        assert stamp - killed < 1.0
        down = await health(system)
        assert down.status_code == 503 and down.json()["status"] == "degraded"
        assert down.json()["engines"]["engine"]["status"] == "UNAVAILABLE"
        assert down.json()["engines"]["engine"]["events"] == "reconnecting"
        lost_at = len(page.messages)

        back = await restart_on(engine, address)
        # The browser that stayed connected gets the engine's status afresh, by itself.
        stamp, status = await page.wait_for(lambda m: m["type"] == "ENGINE_STATUS",
                                            timeout=10, after=lost_at)
        status_after = stamp - back
        health_after = await healthy_after(system, back)
        assert (await health(system)).json()["engines"]["engine"]["events"] == "following"

        # And it trades again through the restarted engine and the gateway's new stream.
        await running_engine(page)
        deposit = await page.command("DRIFT_DEPOSIT", {"amount": "100"})
        assert deposit["payload"]["ok"], deposit
    print(f"engine back: browser had ENGINE_STATUS after {status_after:.3f} s, "
          f"/health 200 after {health_after:.3f} s")
    assert status["payload"]["hedge_market"] == "SOL-PERP"
    assert status_after < BACK_WITHIN
    assert health_after < BACK_WITHIN


async def test_after_an_executor_restart_health_recovers_and_the_engine_trades_again(
    system: RunningSystem,
) -> None:
    executor = system.system.processes["executor"]
    async with browser(system) as page:
        await running_engine(page)
        address = await kill_9(executor)
        killed = time.monotonic()

        # The gateway has no channel to the executor: it learns of it from the engine's
        # backend health, kept about a second there and up to 2 s in the gateway's cache.
        async def degraded() -> bool:
            return (await health(system)).status_code == 503

        await wait_for(degraded, timeout=3.5, interval=0.05)
        shown_after = time.monotonic() - killed
        down = await health(system)
        assert down.json()["engines"]["executor"]["status"] == "UNAVAILABLE"
        assert down.json()["engines"]["venue"]["connected"] is False
        asked = time.monotonic()
        refused = await page.command("DRIFT_DEPOSIT", {"amount": "10"})
        refused_after = time.monotonic() - asked
        assert not refused["payload"]["ok"]

        back = await restart_on(executor, address)
        health_after = await healthy_after(system, back)

        # The engine's own channel to the executor finds it again: a deposit goes through.
        async def deposited() -> bool:
            reply = await page.command("DRIFT_DEPOSIT", {"amount": "10"})
            return bool(reply["payload"]["ok"])

        await wait_for(deposited, timeout=15, interval=0.1)
        trade_after = time.monotonic() - back
    print(f"executor away: /health 503 after {shown_after:.3f} s, a deposit was refused "
          f"({refused['payload']['error']['code']}) "
          f"after {refused_after:.3f} s; executor back: /health 200 after {health_after:.3f} s, "
          f"a deposit went through after {trade_after:.3f} s")
    assert refused_after < 2.0   # refused at once, not held until the executor is back
    assert health_after < BACK_WITHIN
    assert trade_after < BACK_WITHIN + 1.0
