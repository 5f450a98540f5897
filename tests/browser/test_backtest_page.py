"""The dashboard's Backtest panel in Chromium against the real gateway and engine: a run shows
its progress, totals, per-market table and chart; dates without data are refused with the
reason; a long run can be cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.backtest.test_backtest_service import workers
from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, system: RunningSystem) -> AsyncIterator[Page]:
    """The dashboard, opened for one test and closed after it."""
    dashboard = await Dashboard.open(browser, system)
    try:
        yield dashboard.page
    finally:
        await dashboard.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_hold_backtest_runs_from_the_page_and_shows_its_result(
    page: Page, screenshots: Path,
) -> None:
    await page.get_by_test_id("bt-strategy").select_option("hold")
    await page.get_by_test_id("bt-market").fill("BTC-PERP")
    await page.get_by_test_id("bt-size").fill("0.1")
    await page.get_by_test_id("bt-start").fill("2026-02-01")
    await page.get_by_test_id("bt-end").fill("2026-02-15")
    await page.get_by_test_id("bt-run").click()
    await expect(page.get_by_test_id("bt-status")).to_contain_text("Done", timeout=30_000)
    await expect(page.get_by_test_id("bt-result")).to_be_visible()
    await expect(page.get_by_test_id("bt-markets")).to_contain_text("BTC-PERP")
    await expect(page.get_by_test_id("bt-markets")).to_contain_text("336")   # hours held
    await expect(page.get_by_test_id("bt-sources")).to_contain_text("recorded_daily_average")
    await expect(page.get_by_test_id("bt-refusals")).to_contain_text("The baseline")
    assert await page.locator("#bt-chart canvas").count() > 0
    await page.get_by_test_id("backtest-panel").scroll_into_view_if_needed()
    await page.get_by_test_id("backtest-panel").screenshot(
        path=str(screenshots / "backtest-panel.png"))


@pytest.mark.asyncio(loop_scope="module")
async def test_a_carry_shows_what_the_engine_s_gates_refused_and_runs_past_them_on_request(
    page: Page, screenshots: Path,
) -> None:
    await page.get_by_test_id("bt-strategy").select_option("carry")
    await page.get_by_test_id("bt-size").fill("10")
    await page.get_by_test_id("bt-start").fill("2026-02-01")
    await page.get_by_test_id("bt-end").fill("2026-02-15")
    await page.get_by_test_id("bt-run").click()
    await expect(page.get_by_test_id("bt-status")).to_contain_text("Done", timeout=30_000)
    refusals = page.get_by_test_id("bt-refusals")
    await expect(refusals).to_contain_text("refused 336× by the profitability gate (UNPROFITABLE)")
    await expect(page.get_by_test_id("bt-summary")).to_contain_text("$0.00")
    await page.get_by_test_id("backtest-panel").screenshot(
        path=str(screenshots / "backtest-carry-refused.png"))
    await page.get_by_test_id("bt-ungated").check()
    await page.get_by_test_id("bt-run").click()
    await expect(refusals).to_contain_text("Ungated", timeout=30_000)
    await expect(page.locator("#bt-summary-row td").last).to_have_text("4")
    await page.get_by_test_id("bt-ungated").uncheck()


@pytest.mark.asyncio(loop_scope="module")
async def test_dates_without_data_are_refused_with_the_reason(page: Page) -> None:
    await page.get_by_test_id("bt-start").fill("2025-01-01")
    await page.get_by_test_id("bt-end").fill("2025-02-01")
    await page.get_by_test_id("bt-run").click()
    status = page.get_by_test_id("bt-status")
    await expect(status).to_contain_text("Refused (INVALID_ARGUMENT)", timeout=15_000)
    await expect(status).to_contain_text("recorded data runs from 2026-01-10")
    await expect(status).to_have_attribute("data-state", "error")
    await expect(page.get_by_test_id("bt-run")).to_be_enabled()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_running_backtest_can_be_cancelled(page: Page) -> None:
    await page.get_by_test_id("bt-strategy").select_option("rotate")
    await page.get_by_test_id("bt-walk").check()
    await page.get_by_test_id("bt-run").click()
    await expect(page.get_by_test_id("bt-status")).to_contain_text("Running", timeout=15_000)
    await page.get_by_test_id("bt-cancel").click()
    await expect(page.get_by_test_id("bt-status")).to_have_text("Cancelled.")
    await expect(page.get_by_test_id("bt-cancel")).to_be_hidden()
    for _ in range(50):
        if not workers():
            break
        await page.wait_for_timeout(100)
    assert workers() == []
