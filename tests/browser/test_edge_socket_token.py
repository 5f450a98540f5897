"""The dashboard's WebSocket carries the API token as a subprotocol, never in its URL, and the
address bar drops the token once the page has read it."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, Request

from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# Records what each `new WebSocket(url, protocols)` of the page asks for.
RECORD_SOCKETS = """
window.__sockets = [];
const Original = window.WebSocket;
window.WebSocket = class extends Original {
  constructor(url, protocols) {
    super(url, protocols);
    window.__sockets.push({ url: String(url), protocols: [].concat(protocols || []) });
  }
};
"""


async def test_the_websocket_url_carries_no_token(browser: Browser, system: RunningSystem) -> None:
    requests: list[Request] = []

    async def prepare(context: BrowserContext) -> None:
        await context.add_init_script(RECORD_SOCKETS)
        context.on("request", lambda request: requests.append(request))

    dashboard = await Dashboard.open(browser, system, prepare=prepare)
    try:
        await dashboard.wait_connected()
        page_url = dashboard.page.url
        sockets = await dashboard.page.evaluate("window.__sockets")
        chosen = await dashboard.page.evaluate(
            "new Promise((resolve) => { const ws = new WebSocket(window.__sockets[0].url, "
            "window.__sockets[0].protocols); ws.onopen = () => { resolve(ws.protocol); "
            "ws.close(); }; ws.onerror = () => resolve('error'); })")
    finally:
        await dashboard.close()
    assert sockets, "the dashboard opened no WebSocket"
    for socket in sockets:
        assert socket["url"].endswith("/ws") and system.api_token not in socket["url"], socket
        assert socket["protocols"] == ["dne.v1", f"dne.token.{system.api_token}"]
    # The gateway took the token and chose the plain protocol (the token is never echoed).
    assert chosen == "dne.v1"
    assert not [message for message in dashboard.received
                if message.get("payload", {}).get("code") == "UNAUTHORIZED"]
    # Only the URL the user opened holds the token; nothing the page asks for afterwards does.
    later = [request.url for request in requests if not request.is_navigation_request()]
    assert later and all(system.api_token not in url for url in later), later
    assert system.api_token not in page_url
