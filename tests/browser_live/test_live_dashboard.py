"""The dashboard in live mode against the stand-ins, on Drift's and on Velocity's: marked LIVE
(SIMULATED VENUE) and the venue, balances in its quote, the carry taken with both legs through
the page, seen in the positions table, and left."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import async_playwright, expect

from services.common.venue_profile import load_profile
from tests.integration.flow import account, perp_size
from tests.kit.browser_dashboard import CHROMIUM, CHROMIUM_ARGS, GATEWAY_ENV, Dashboard
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import browser as socket_browser
from tests.kit.system import RunningSystem, running_system

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["drift", "velocity"])
async def live(tmp_path_factory: pytest.TempPathFactory,
               request: pytest.FixtureRequest) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp(f"live-dashboard-{request.param}")
    async with running_system(
        var, sqlite_url(var), gateway=True, live_sim=True, gateway_env=GATEWAY_ENV,
        common_env={"VENUE_PROFILE": request.param},
        # The page's flow is under test here, not the latency kill-switch (tests/live has it):
        # a chromium start on a loaded 2-core CI runner once stalled a venue read past 300 ms.
        engine_env={"LATENCY_LIMIT_MS": "2000"},
        feed_env={"CACHE_TTL_SEC": "1"}, venue_sim_env={"SIM_ORACLE_KEEPER_SEC": "0.4"},
    ) as running:
        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.post(running.venue_sim_url + "/_control/funding",
                                    content=json.dumps({"market_index": 0, "rate_1h": "0.0002"}))
            assert reply.status_code == 200, reply.text
        await asyncio.sleep(1.5)
        async with socket_browser(running) as page:
            assert (await page.command("START_ENGINE", {"mode": "live"}))["payload"]["ok"]
            assert (await page.command("DRIFT_DEPOSIT", {"amount": "1500"}, timeout=15))[
                "payload"]["ok"]
        yield running


async def test_the_live_dashboard_takes_and_leaves_the_carry(live: RunningSystem) -> None:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            dashboard = await Dashboard.open(chromium, live)
            page = dashboard.page
            venue = load_profile(live.profile_name)
            await expect(page.get_by_test_id("mode-badge")).to_have_text(
                f"LIVE (SIMULATED VENUE) · {venue.display_name}")
            await expect(page.locator("#wallet-usdc")).to_contain_text(venue.quote_symbol)
            await dashboard.take_and_confirm("SOL-PERP", "2")
            row = dashboard.position_row("SOL-PERP")
            await expect(row).to_have_count(1, timeout=20_000)
            assert perp_size(await account(live.stubs)) == Decimal(-2)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await dashboard.screenshot(SCREENSHOTS, f"08-live-position-open-{live.profile_name}")
            await dashboard.leave("SOL-PERP")
            assert perp_size(await account(live.stubs)) == 0
            await dashboard.close()
        finally:
            await chromium.close()
