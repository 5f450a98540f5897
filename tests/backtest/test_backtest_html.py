"""The HTML report opened in Chromium from the file alone: its three charts draw, with no request
to anywhere and no script error, and it shows the run's numbers."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from playwright.async_api import async_playwright

from tests.backtest.test_backtest_cli import dne
from tests.kit.browser_dashboard import CHROMIUM, CHROMIUM_ARGS


def test_the_html_report_draws_its_charts_offline_and_shows_the_totals(tmp_path: Path) -> None:
    page_file, out = tmp_path / "report.html", tmp_path / "report.json"
    done = dne("--start", "2026-02-01", "--end", "2026-02-21", "--strategy", "rotate",
               "--capital", "10000", "--html", str(page_file), "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    drawn, requests, errors, text = asyncio.run(_open(page_file))
    assert drawn == 3 and errors == []
    assert requests == [page_file.as_uri()]   # nothing fetched beyond the file itself
    assert f"{Decimal(report['net_pnl_usd']):,.2f}" in text
    assert f"{Decimal(report['funding_pnl_usd']):,.2f}" in text
    assert "recorded_daily_average" in text


async def _open(path: Path) -> tuple[int, list[str], list[str], str]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda request: requests.append(request.url)
                    if not request.url.startswith("data:") else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text)
                    if message.type == "error" else None)
            await page.goto(path.as_uri())
            await page.wait_for_selector("body[data-drawn=yes]", timeout=15_000)
            return (await page.locator(".uplot canvas").count(), requests, errors,
                    await page.inner_text("body"))
        finally:
            await browser.close()
