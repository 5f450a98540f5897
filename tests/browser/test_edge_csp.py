"""The dashboard works under the gateway's Content-Security-Policy: no violation, no console
error, the chart drawn and the socket open."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, expect

from tests.kit.browser_dashboard import Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


async def test_the_dashboard_runs_under_its_content_security_policy_without_a_violation(
    browser: Browser, system: RunningSystem,
) -> None:
    console: list[ConsoleMessage] = []

    async def prepare(context: BrowserContext) -> None:
        await context.add_init_script(RECORD_VIOLATIONS)
        context.on("console", lambda message: console.append(message))

    dashboard = await Dashboard.open(browser, system, prepare=prepare)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        await expect(page.get_by_test_id("funding-chart").locator("canvas")).to_be_visible()
        # A modal and its styles (set through the CSSOM, which the policy allows).
        await dashboard.open_take_modal("SOL-PERP")
        await expect(page.get_by_test_id("take-modal")).to_be_visible()
        violations = await page.evaluate("window.__cspViolations")
        answer = await page.request.get(f"{system.gateway_url}/")
        policy = answer.headers["content-security-policy"]
    finally:
        await dashboard.close()
    assert "default-src 'self'" in policy
    assert violations == []
    errors = [message.text for message in console if message.type == "error"]
    assert not [text for text in errors if "Content Security Policy" in text], errors
