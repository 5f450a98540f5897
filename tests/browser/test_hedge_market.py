"""The hedge market takes no user long (the engine refuses HEDGE_MARKET_LONG): the dashboard says
so before anything is sent, and shows the engine's sentence when a long reaches it anyway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.integration.flow import account, pause_clock_at
from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

LONGS_RECEIVE = datetime(2026, 1, 13, 12, tzinfo=UTC)    # SOL-PERP funding negative
SHORTS_RECEIVE = datetime(2026, 1, 15, 12, tzinfo=UTC)   # SOL-PERP funding positive


async def hedge_market(system: RunningSystem) -> str:
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        reply = await client.get("/api/status",
                                 headers={"Authorization": f"Bearer {system.api_token}"})
    return str(reply.json()["engine"]["hedge_market"])


async def markets(system: RunningSystem) -> dict[str, dict]:
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        reply = await client.get("/api/drift/markets")
    return {market["symbol"]: market for market in reply.json()["markets"]}


@pytest_asyncio.fixture(loop_scope="module")
async def on_a_day_longs_receive(
    browser: Browser, system: RunningSystem,
) -> AsyncIterator[Dashboard]:
    await pause_clock_at(system.stubs, LONGS_RECEIVE)
    dashboard = await Dashboard.open(browser, system)
    await dashboard.wait_connected()
    yield dashboard
    await dashboard.close()


def take_button(dashboard: Dashboard, market: str):  # type: ignore[no-untyped-def]
    return dashboard.page.locator(f'[data-testid="take-button"][data-market="{market}"]')


async def test_take_is_disabled_with_the_reason_on_the_hedge_market_when_longs_receive(
    on_a_day_longs_receive: Dashboard, system: RunningSystem, screenshots: Path,
) -> None:
    dashboard, hedge = on_a_day_longs_receive, await hedge_market(system)
    table = await markets(system)
    assert table[hedge]["direction"] == "longs"   # the day the issue reproduced the reversal

    take = take_button(dashboard, hedge)
    await expect(take).to_be_disabled()
    await expect(take).to_have_attribute("title", f"{hedge} is the hedge market: the engine "
                                         "holds it short against spot SOL and rebalances it, so "
                                         "it takes no long. Go long on another market.")
    row = dashboard.page.locator(f'[data-testid="market-row"][data-market="{hedge}"]')
    await expect(row.get_by_test_id("take-blocked-reason")).to_have_text("Hedge market: no long")

    others = [symbol for symbol, market in table.items() if market["tradable"] and symbol != hedge]
    assert others
    for symbol in others:   # every other market, whichever side receives, is unchanged
        await expect(take_button(dashboard, symbol)).to_be_enabled()
    await take_button(dashboard, others[0]).click()
    await expect(dashboard.page.get_by_test_id("take-modal")).to_be_visible()
    await expect(dashboard.page.get_by_test_id("take-submit")).to_be_enabled()
    await dashboard.page.keyboard.press("Escape")

    await row.scroll_into_view_if_needed()
    await dashboard.screenshot(screenshots, "08-hedge-market-no-long")


async def test_a_long_on_the_hedge_market_that_reaches_the_engine_shows_its_refusal(
    on_a_day_longs_receive: Dashboard, system: RunningSystem, screenshots: Path,
) -> None:
    """Sent anyway (an old page, a crafted frame): the toast carries the code and the sentence."""
    page, hedge = on_a_day_longs_receive.page, await hedge_market(system)
    await page.evaluate("""market => window.dneApp.runCommand("DRIFT_OPEN_POSITION",
        {market, direction: "long", size: "0.1", confirmed: false})""", hedge)
    toast = page.get_by_test_id("toast-error")
    await expect(toast.get_by_test_id("toast-code")).to_have_text("HEDGE_MARKET_LONG",
                                                                   timeout=10_000)
    await expect(toast).to_contain_text("Open position refused")
    await expect(toast.get_by_test_id("toast-message")).to_contain_text(
        f"{hedge} is the hedge market")
    await expect(toast.get_by_test_id("toast-message")).to_contain_text("takes no long")
    await on_a_day_longs_receive.screenshot(screenshots, "09-hedge-market-long-refused")
    assert list((await account(system.stubs)).positions) == []


async def test_the_take_modal_says_why_before_sending_a_long_on_the_hedge_market(
    browser: Browser, system: RunningSystem, screenshots: Path,
) -> None:
    """On a day shorts receive, Take is open on the hedge market; choosing Long there is
    explained and cannot be sent."""
    await pause_clock_at(system.stubs, SHORTS_RECEIVE)
    hedge = await hedge_market(system)
    dashboard = await Dashboard.open(browser, system)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        await expect(take_button(dashboard, hedge)).to_be_enabled()
        await dashboard.open_take_modal(hedge)
        submit, hint = page.get_by_test_id("take-submit"), page.locator("#take-side-hint")
        await page.get_by_test_id("take-size").fill("0.1")
        await page.get_by_test_id("take-side-long").check()
        await expect(hint).to_contain_text(f"{hedge} is the hedge market")
        await expect(submit).to_be_disabled()
        await dashboard.screenshot(screenshots, "10-hedge-market-modal-long")
        await page.get_by_test_id("take-side-short").check()
        await expect(hint).to_have_text("Shorts receive funding at the current rate.")
        await expect(submit).to_be_enabled()
        assert dashboard.commands("DRIFT_OPEN_POSITION") == []
    finally:
        await dashboard.close()
