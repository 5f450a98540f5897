"""Issue 10 in a real Chromium: the dashboard shows that it is reconnecting when the gateway is
killed -9 and comes back by itself when the gateway restarts on its port; it also says when the
gateway is up but has lost the engine, and clears that when the engine is back.

This module kills and restarts services of its own system (conftest: one per module)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from services.common.grpc_client import open_channel
from tests.integration.flow import request_id
from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import TEST_API_TOKEN, RunningSystem, kill_9, restart_on

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# The page retries at least every 5 s (less up to 20 % jitter; the schedule itself is pinned by
# test_dashboard's fake-clock test); the rest is slack for a busy machine.
PAGE_BACK_WITHIN_MS = 6_500


async def ensure_running(system: RunningSystem) -> None:
    """The engine may resume by itself after a restart; start it when it did not."""
    async with open_channel(system.system.address("engine"), TEST_API_TOKEN) as channel:
        reply = await engine_pb2_grpc.EngineServiceStub(channel).StartEngine(
            engine_pb2.StartEngineRequest(request_id=request_id(), mode="paper"), timeout=10)
    assert reply.result.ok or reply.result.error.code == "ENGINE_ALREADY_RUNNING", reply


async def test_the_dashboard_shows_reconnecting_while_the_gateway_is_down_and_comes_back_alone(
    browser: Browser, system: RunningSystem, screenshots: Path,
) -> None:
    dashboard = await Dashboard.open(browser, system)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        status = page.get_by_test_id("connection-status")
        banner = page.get_by_test_id("connection-banner")
        await expect(banner).to_be_hidden()

        gateway = system.system.processes["gateway"]
        address = await kill_9(gateway)
        await expect(status).to_have_attribute("data-state", "reconnecting", timeout=3_000)
        await expect(status).to_contain_text("Reconnecting")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Reconnecting to the gateway")
        await dashboard.screenshot(screenshots, "10-reconnecting-to-the-gateway")
        # Down long enough (with the restart's own seconds) for the backoff to reach its cap.
        await page.wait_for_timeout(4_000)

        back = await restart_on(gateway, address)
        await expect(status).to_have_attribute("data-state", "open", timeout=PAGE_BACK_WITHIN_MS)
        page_after = time.monotonic() - back
        await expect(status).to_have_text("Live")
        await expect(banner).to_be_hidden()
        # The new connection's greeting: the engine's status and its latest update.
        await expect(page.get_by_test_id("engine-status")).to_have_text("Engine running (paper)")
    finally:
        await dashboard.close()
    print(f"gateway back: the dashboard reconnected after {page_after:.3f} s")


async def test_the_dashboard_says_when_the_gateway_lost_the_engine_and_when_it_is_back(
    browser: Browser, system: RunningSystem, screenshots: Path,
) -> None:
    dashboard = await Dashboard.open(browser, system)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        engine_status = page.get_by_test_id("engine-status")
        banner = page.get_by_test_id("connection-banner")
        await expect(engine_status).to_have_text("Engine running (paper)")

        engine = system.system.processes["engine"]
        address = await kill_9(engine)
        await expect(engine_status).to_have_text("Engine unreachable · reconnecting…",
                                                 timeout=3_000)
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Engine unreachable")
        # The gateway itself is still there.
        await expect(page.get_by_test_id("connection-status")).to_have_text("Live")
        await dashboard.screenshot(screenshots, "11-engine-unreachable")

        back = await restart_on(engine, address)
        # The gateway follows the new engine and sends its status: the page clears the alarm.
        await expect(banner).to_be_hidden(timeout=5_000)
        engine_after = time.monotonic() - back
        await expect(engine_status).not_to_have_text("Engine unreachable · reconnecting…")
        await ensure_running(system)
        await expect(engine_status).to_have_text("Engine running (paper)")
    finally:
        await dashboard.close()
    print(f"engine back: the dashboard showed its status after {engine_after:.3f} s")
    assert engine_after < 3.0
