"""Backend trouble is a 503 with a clear body, quickly: never a hang, never a 500."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import auth_headers, browser
from tests.kit.system import running_system

pytestmark = pytest.mark.integration


async def test_with_the_feed_killed_markets_answer_503_feed_unavailable_within_3_s(tmp_path):
    async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True) as system:
        system.system.processes["feed"].kill()
        await system.system.processes["feed"].wait()
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
            started = time.monotonic()
            markets = await client.get("/api/drift/markets")
            elapsed = time.monotonic() - started
            history = await client.get("/api/drift/markets/SOL-PERP/funding")
            health = await client.get("/health", headers=auth_headers())
        async with browser(system) as page:
            opened = await page.command("DRIFT_OPEN_POSITION", {
                "market": "SOL-PERP", "direction": "short", "size": "1"})
            ping = await page.command("PING")
    assert markets.status_code == 503 and elapsed < 3.0
    assert markets.json()["error"]["code"] == "FEED_UNAVAILABLE"
    assert "feed" in markets.json()["error"]["message"]
    assert history.status_code == 503
    assert history.json()["error"]["code"] == "FEED_UNAVAILABLE"
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["engines"]["feed"]["status"] == "UNAVAILABLE"
    assert opened["payload"]["error"]["code"] == "FEED_UNAVAILABLE"
    assert ping["payload"]["ok"] is True


async def test_with_the_engine_killed_status_and_commands_answer_engine_unavailable(tmp_path):
    async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True) as system:
        system.system.processes["engine"].kill()
        await system.system.processes["engine"].wait()
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
            status = await client.get("/api/status", headers=auth_headers())
        async with browser(system) as page:
            _, greeting = await page.wait_for(lambda m: True)
            started = time.monotonic()
            result = await page.command("START_ENGINE", {"mode": "paper"})
            elapsed = time.monotonic() - started
    assert status.status_code == 503
    assert status.json()["error"]["code"] == "ENGINE_UNAVAILABLE"
    assert greeting == {"type": "ERROR", "payload": {
        "code": "ENGINE_UNAVAILABLE",
        "message": "the engine is unavailable; updates resume when it is back"}}
    assert result["payload"]["error"]["code"] == "ENGINE_UNAVAILABLE" and elapsed < 5.0
