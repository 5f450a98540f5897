"""A command whose connection drops before its answer is sent again, under the same id, when the
dashboard reconnects: the engine answers the first outcome and the money moves once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from playwright.async_api import Browser, BrowserContext, WebSocketRoute, expect

from tests.integration.flow import account
from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


class LosesFirstAnswer:
    """Routes the dashboard's socket through the test: the first connection loses the first
    answer that `matches`, and then itself (a network drop after the engine acted)."""

    def __init__(self, matches: Callable[[str], bool]) -> None:
        self.matches = matches
        self.routes: list[WebSocketRoute] = []
        self.dropped: list[str] = []
        self._background: set[asyncio.Task[None]] = set()

    async def prepare(self, context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/ws$"), self._gateway)

    async def _gateway(self, route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        route.on_message(server.send)

        def from_server(message: str | bytes) -> None:
            text = message if isinstance(message, str) else ""
            if len(self.routes) == 1 and not self.dropped and self.matches(text):
                self.dropped.append(text)
                task = asyncio.get_running_loop().create_task(self._drop(route, server))
                self._background.add(task)
                return
            route.send(message)

        server.on_message(from_server)
        self.routes.append(route)

    @staticmethod
    async def _drop(route: WebSocketRoute, server: WebSocketRoute) -> None:
        await route.close(code=1011, reason="network drop")
        await server.close()


async def test_a_deposit_whose_answer_was_lost_is_resent_with_its_id_and_deposits_once(
    browser: Browser, system: RunningSystem,
) -> None:
    network = LosesFirstAnswer(
        lambda text: '"COMMAND_RESULT"' in text and '"DRIFT_DEPOSIT"' in text)
    dashboard = await Dashboard.open(browser, system, prepare=network.prepare)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        before = Decimal((await account(system.stubs)).collateral)
        await page.get_by_test_id("quick-deposit").click()
        await page.get_by_test_id("amount-input").fill("25")
        await page.get_by_test_id("amount-submit").click()

        toast = page.get_by_test_id("toast-success").filter(has_text="Deposit")
        await expect(toast).to_be_visible(timeout=15_000)
        await expect(toast).to_contain_text("traded once")
        assert network.dropped and len(network.routes) >= 2   # lost with its socket
        sent = dashboard.commands("DRIFT_DEPOSIT")
        assert len(sent) == 2 and sent[0]["id"] == sent[1]["id"], sent
        assert re.fullmatch(r"[0-9a-f-]{32,36}", sent[0]["id"])   # a UUID, not a counter
        assert Decimal((await account(system.stubs)).collateral) == before + 25
    finally:
        await dashboard.close()


async def test_a_confirmed_purchase_whose_answer_was_lost_is_resent_with_its_quote_and_buys_once(
    browser: Browser, system: RunningSystem,
) -> None:
    """The confirming command (the engine's quote id) re-sent after a reconnection is the same
    command: the engine answers its stored outcome; the quote is not asked for again."""
    network = LosesFirstAnswer(
        lambda text: '"COMMAND_RESULT"' in text and '"DRIFT_SWAP"' in text
        and re.search(r'"ok":\s*true', text) is not None)
    dashboard = await Dashboard.open(browser, system, prepare=network.prepare)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        before = Decimal((await account(system.stubs)).wallet.sol)
        await page.get_by_test_id("quick-buy-sol").click()
        await page.get_by_test_id("amount-input").fill("2")  # over $100 (SOL ~ $85): a quote
        await page.get_by_test_id("amount-submit").click()
        await expect(page.get_by_test_id("confirm-modal")).to_be_visible(timeout=10_000)
        await page.get_by_test_id("confirm-submit").click()

        toast = page.get_by_test_id("toast-success").filter(has_text="Swap")
        await expect(toast).to_be_visible(timeout=15_000)
        await expect(toast).to_contain_text("traded once")
        assert network.dropped and len(network.routes) >= 2
        sent = dashboard.commands("DRIFT_SWAP")
        assert [bool(f["payload"]["confirmation_id"]) for f in sent] == [False, True, True]
        assert sent[1]["id"] == sent[2]["id"] and sent[1]["payload"] == sent[2]["payload"]
        assert Decimal((await account(system.stubs)).wallet.sol) == before + 2
    finally:
        await dashboard.close()
