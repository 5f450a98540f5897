"""The dashboard in a real Chromium against the real services (replayed Drift data)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

COMPACT_USD = re.compile(r"^\$\d+(\.\d+)?[KMB]$")


@pytest_asyncio.fixture(loop_scope="module")
async def dashboard(browser: Browser, system: RunningSystem) -> AsyncIterator[Dashboard]:
    opened = await Dashboard.open(browser, system)
    await opened.wait_connected()
    yield opened
    await opened.close()


async def markets_from_api(system: RunningSystem) -> dict:
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        reply = await client.get("/api/drift/markets")
    reply.raise_for_status()
    return reply.json()


async def test_dashboard_shows_the_replayed_markets_sorted_by_apr_with_formatted_stats(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    api = await markets_from_api(system)
    symbols = await page.get_by_test_id("market-row").evaluate_all(
        "rows => rows.map(r => r.dataset.market)"
    )
    assert "SOL-PERP" in symbols
    assert symbols == [m["symbol"] for m in sorted(api["markets"], key=lambda m: -m["apr"])]
    aprs = [float(text.rstrip("%")) for text in await page.get_by_test_id("apr").all_inner_texts()]
    assert aprs == sorted(aprs, reverse=True)

    stats = page.get_by_test_id("market-stats")
    assert COMPACT_USD.match(await stats.locator('[data-stat="total_oi"]').inner_text())
    assert COMPACT_USD.match(await stats.locator('[data-stat="volume_24h"]').inner_text())
    await expect(page.get_by_test_id("opportunity-card")).to_have_count(3)
    await expect(page.get_by_test_id("source-line")).to_contain_text("Recorded Drift data, replayed")
    await expect(page.get_by_test_id("mode-badge")).to_have_text("PAPER")
    # The token left the address bar but stays in this tab's sessionStorage.
    assert "token=" not in page.url
    assert await page.evaluate("sessionStorage.getItem('dne.apiToken')") == system.api_token
    await dashboard.screenshot(screenshots, "01-markets-loaded")


async def test_take_modal_preselects_the_side_that_receives_funding_and_validates_the_size(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    sol = next(m for m in (await markets_from_api(system))["markets"] if m["symbol"] == "SOL-PERP")
    assert sol["direction"] == "shorts"  # 2026-01-15: longs paid shorts
    await dashboard.open_take_modal("SOL-PERP")
    await expect(page.get_by_test_id("take-side-short")).to_be_checked()

    for junk, complaint in [("-1", "plain positive number"), ("abc", "plain positive number"),
                            ("0", "greater than zero"), ("1e9", "plain positive number"),
                            ("99999999", "at most")]:
        await page.get_by_test_id("take-size").fill(junk)
        await expect(page.get_by_test_id("take-error")).to_contain_text(complaint)
    await page.get_by_test_id("take-submit").click()
    await expect(page.get_by_test_id("take-modal")).to_be_visible()  # nothing sent
    assert dashboard.commands("DRIFT_OPEN_POSITION") == []

    await page.get_by_test_id("take-size").fill("2")
    await expect(page.get_by_test_id("take-error")).to_have_text("")
    expected = 2 * sol["oracle_price"]
    await expect(page.get_by_test_id("take-notional")).to_have_text(f"${expected:,.2f}")
    await dashboard.screenshot(screenshots, "02-take-modal")
