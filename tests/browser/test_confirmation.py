"""The $100 confirmation in the browser is the engine's quote: the dialog shows it and sends its
id back; when the price moved beyond the tolerance before the click, the engine quotes again and
the dialog asks again with the reason, and nothing trades at the old price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Browser, expect

from dne.feed.v1 import feed_pb2
from tests.integration.flow import account
from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def test_a_price_that_moved_before_the_click_is_quoted_and_asked_again(
    browser: Browser, system: RunningSystem,
) -> None:
    dashboard = await Dashboard.open(browser, system)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        spot_before = Decimal((await account(system.stubs)).wallet.sol)
        await page.get_by_test_id("quick-buy-sol").click()
        await page.get_by_test_id("amount-input").fill("2")  # SOL ~ $85: over $100
        await page.get_by_test_id("amount-submit").click()
        confirm = page.get_by_test_id("confirm-modal")
        await expect(confirm).to_be_visible(timeout=10_000)
        await expect(page.get_by_test_id("confirm-note")).to_be_hidden()
        quoted = dashboard.received_results("DRIFT_SWAP")[-1]["payload"]["confirmation"]

        moved = Decimal(str(quoted["price"])) * Decimal("1.02")  # beyond the 0.5 % tolerance
        await system.stubs.replay.SetPriceScenario(feed_pb2.SetPriceScenarioRequest(
            market="SOL-PERP", oracle_price=str(moved.quantize(Decimal("0.001")))))
        try:
            await page.get_by_test_id("confirm-submit").click()
            await expect(page.get_by_test_id("confirm-note")).to_contain_text(
                "price moved", timeout=10_000)
            await expect(confirm).to_be_visible()
            assert Decimal((await account(system.stubs)).wallet.sol) == spot_before
            requoted = dashboard.received_results("DRIFT_SWAP")[-1]["payload"]["confirmation"]
            assert requoted["confirmation_id"] != quoted["confirmation_id"]
            assert requoted["price"] > quoted["price"]

            await page.get_by_test_id("confirm-submit").click()
            await expect(page.get_by_test_id("toast-success").filter(has_text="Swap")
                         ).to_be_visible(timeout=10_000)
        finally:
            await system.stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest())
        sent = [f["payload"]["confirmation_id"] for f in dashboard.commands("DRIFT_SWAP")]
        assert sent == ["", quoted["confirmation_id"], requoted["confirmation_id"]]
        assert Decimal((await account(system.stubs)).wallet.sol) == spot_before + 2
    finally:
        await dashboard.close()
