"""The dashboard as the browser tests drive it: a page object over Playwright, plus the gRPC
set-up steps the tests need before the page opens."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, WebSocket, expect

from dne.engine.v1 import engine_pb2
from tests.integration.flow import request_id
from tests.kit.system import RunningSystem, Stubs

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The browser tests load the page and trade more often in a minute than design.md's limits
# allow one client (10 market requests, 10 position operations); those limits have their own
# gateway tests.
# The suite clicks faster than a person: design.md's limits are proven in tests/gateway.
GATEWAY_ENV = {"RATE_LIMIT_MARKETS": "600/minute", "RATE_LIMIT_POSITION_OPS": "600/minute",
               "RATE_LIMIT_WS_COMMANDS": "50/second"}

async def start_engine(stubs: Stubs) -> None:
    reply = await stubs.engine.StartEngine(
        engine_pb2.StartEngineRequest(request_id=request_id(), mode="paper")
    )
    assert reply.result.ok, reply.result.error


async def deposit(stubs: Stubs, amount: str) -> None:
    reply = await stubs.engine.Deposit(
        engine_pb2.DepositRequest(request_id=request_id(), amount=amount)
    )
    assert reply.result.ok, reply.result.error


@dataclass
class Dashboard:
    context: BrowserContext
    page: Page
    sent: list[dict[str, Any]] = field(default_factory=list)      # frames the page sent
    received: list[dict[str, Any]] = field(default_factory=list)  # frames the gateway sent

    @classmethod
    async def open(
        cls,
        browser: Browser,
        system: RunningSystem,
        *,
        viewport: dict[str, int] | None = None,
        fake_clock: bool = False,
        prepare: Callable[[BrowserContext], Awaitable[None]] | None = None,
    ) -> Dashboard:
        """`prepare` runs before the page loads (e.g. to route its WebSocket)."""
        context = await browser.new_context(viewport=viewport or DESKTOP)
        if prepare is not None:
            await prepare(context)
        page = await context.new_page()
        dashboard = cls(context, page)
        page.on("websocket", dashboard._record)
        if fake_clock:
            # Timers and Date run normally until a test fast-forwards them.
            await page.clock.install()
        await page.goto(f"{system.gateway_url}/?token={system.api_token}")
        await expect(page.get_by_test_id("market-row").first).to_be_visible(timeout=15_000)
        return dashboard

    def _record(self, socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: self.sent.append(_json(payload)))
        socket.on("framereceived", lambda payload: self.received.append(_json(payload)))

    async def close(self) -> None:
        await self.context.close()

    async def wait_connected(self) -> None:
        await expect(self.page.get_by_test_id("connection-status")).to_have_attribute(
            "data-state", "open", timeout=10_000
        )

    def commands(self, action: str) -> list[dict[str, Any]]:
        return [frame for frame in self.sent if frame.get("action") == action]

    def received_results(self, action: str) -> list[dict[str, Any]]:
        """The COMMAND_RESULT frames the gateway answered for `action`, oldest first."""
        return [frame for frame in self.received if frame.get("type") == "COMMAND_RESULT"
                and frame.get("payload", {}).get("action") == action]

    async def screenshot(self, directory: Path, name: str, *, full_page: bool = False) -> Path:
        path = directory / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    # --- flows -------------------------------------------------------------------------------

    async def open_take_modal(self, market: str) -> None:
        await self.page.locator(f'[data-testid="take-button"][data-market="{market}"]').click()
        await expect(self.page.get_by_test_id("take-modal")).to_be_visible()

    async def submit_take(self, size: str) -> None:
        await self.page.get_by_test_id("take-size").fill(size)
        await self.page.get_by_test_id("take-submit").click()

    async def take_and_confirm(self, market: str, size: str) -> None:
        await self.open_take_modal(market)
        await self.submit_take(size)
        await expect(self.page.get_by_test_id("confirm-modal")).to_be_visible(timeout=10_000)
        await self.page.get_by_test_id("confirm-submit").click()
        await expect(self.page.get_by_test_id("confirm-modal")).to_be_hidden()

    def position_row(self, market: str) -> Any:
        return self.page.locator(f'[data-testid="position-row"][data-market="{market}"]')

    async def leave(self, market: str, *, over_threshold: bool = True) -> None:
        """Leave modal, then (over $100) the server's confirmation, then the row goes."""
        await self.position_row(market).get_by_test_id("leave-button").click()
        await self.page.get_by_test_id("leave-submit").click()
        if over_threshold:
            await expect(self.page.get_by_test_id("confirm-modal")).to_be_visible(timeout=10_000)
            await self.page.get_by_test_id("confirm-submit").click()
        await expect(self.position_row(market)).to_have_count(0, timeout=15_000)


def _json(payload: str | bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
