"""The dashboard in a real Chromium against the real services (replayed Drift data)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Route, WebSocketRoute, expect

from dne.feed.v1 import feed_pb2
from tests.integration.flow import account, perp_size, wait_for
from tests.kit.browser_dashboard import DESKTOP, PHONE, Dashboard
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

USD = re.compile(r"^\$[\d,.]+$")
COMPACT_USD = re.compile(r"^\$\d+(\.\d+)?[KMB]$")
RESERVED_SOL = Decimal("0.017")


@pytest_asyncio.fixture(loop_scope="module")
async def dashboard(browser: Browser, system: RunningSystem) -> AsyncIterator[Dashboard]:
    opened = await Dashboard.open(browser, system, fake_clock=True)
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
    source = page.get_by_test_id("source-line")
    await expect(source).to_contain_text("Recorded Drift data, replayed")
    await expect(page.get_by_test_id("mode-badge")).to_have_text("PAPER")
    paused = page.locator('[data-testid="market-row"][data-market="1MBONK-PERP"]')
    await expect(paused.get_by_test_id("market-status")).to_have_text("Funding paused")
    await expect(paused.get_by_test_id("take-button")).to_have_count(0)
    # The hedge market's funding history is charted first.
    await expect(page.locator("#chart-market")).to_have_text("SOL-PERP")
    await expect(page.get_by_test_id("funding-chart").locator("canvas")).to_be_visible()
    await expect(page.locator("#chart-status")).to_contain_text("hourly records")
    # The token left the address bar but stays in this tab's sessionStorage.
    assert "token=" not in page.url
    assert await page.evaluate("sessionStorage.getItem('dne.apiToken')") == system.api_token
    await dashboard.screenshot(screenshots, "01-markets-loaded")


async def test_the_funding_chart_spans_the_chosen_window_ending_at_the_last_record(
    dashboard: Dashboard,
) -> None:
    """uPlot left alone widened the replay's first hour to years on either side."""
    page = dashboard.page
    await expect(page.locator("#chart-status")).to_contain_text("hourly records")
    for button, hours in (("24h", 24), ("7d", 168), ("30d", 720)):
        await page.locator(f'[data-hours="{hours}"]').click()
        await expect(page.locator(f'[data-hours="{hours}"]')).to_have_text(button)
        span = await page.wait_for_function("""hours => {
            const plot = window.dneApp.chart.plot;
            if (!plot || window.dneApp.chart.drawnHours !== hours) return null;
            const xs = plot.data[0];
            return {min: plot.scales.x.min, max: plot.scales.x.max, last: xs[xs.length - 1]};
        }""", arg=hours)
        axis = await span.json_value()
        assert axis["max"] - axis["min"] == hours * 3600, (button, axis)
        assert axis["max"] == axis["last"] + 3600, (button, axis)


@pytest.mark.parametrize("width", [1180, 1400, 1600, 1920])
async def test_every_take_button_is_in_view_without_scrolling_the_table(
    dashboard: Dashboard, width: int
) -> None:
    page = dashboard.page
    await page.set_viewport_size({"width": width, "height": 1000})
    try:
        table = page.locator(".table-scroll", has=page.get_by_test_id("funding-table"))
        await expect(page.get_by_test_id("market-row").first).to_be_visible()
        overflow = await table.evaluate("el => el.scrollWidth - el.clientWidth")
        assert overflow <= 0, f"the markets table overflows by {overflow} px at {width} px"
    finally:
        await page.set_viewport_size(DESKTOP)


async def test_display_and_validation_helpers_give_known_answers(dashboard: Dashboard) -> None:
    answers = await dashboard.page.evaluate("""async () => {
        const fmt = await import("/static/js/format.js");
        const { parsePositiveDecimal } = await import("/static/js/modals.js");
        const { backoffDelay, newCommandId } = await import("/static/js/socket.js");
        const { unsettledPnl } = await import("/static/js/positions.js");
        const { topOpportunities, receivingSide, hedgeLongRefusal } = await import(
            "/static/js/markets.js");
        const market = (symbol, apr, tradable = true) => ({ symbol, apr, tradable });
        return {
            compact: [72000000, 21702819.7, 1.2e9, 512850, 999, -2.5e6].map(
                (v) => fmt.usdCompact(v)),
            pct: [fmt.signedPct(8.47968), fmt.ratePct(9.68e-6), fmt.usd(1234.5),
                  fmt.signedUsd(-0.18)],
            sizes: ["1.5", "0", "-1", "1e3", "NaN", "Infinity", "0.0000000001", "2,5", ""].map(
                (v) => parsePositiveDecimal(v, { max: 1000 }).value ?? "invalid"),
            tooBig: parsePositiveDecimal("1001", { max: 1000 }).error,
            backoff: [0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, 0)),
            jittered: [0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, 0.999999)),
            random: Array.from({ length: 50 }, () => backoffDelay(10)),
            unsettled: [
                unsettledPnl({ total_pnl: 12.5, settled_pnl: 10, unrealized_pnl: 99 }),
                unsettledPnl({ total_pnl: null, settled_pnl: null, unrealized_pnl: -3 }),
            ],
            top: topOpportunities([market("A", 5), market("B", -40), market("C", 90, false),
                                   market("D", 12), market("E", 1)]).map((m) => m.symbol),
            sides: [receivingSide({ direction: "shorts" }), receivingSide({ direction: "longs" })],
            refusals: [["SOL-PERP", "long", "SOL-PERP"], ["SOL-PERP", "short", "SOL-PERP"],
                       ["BTC-PERP", "long", "SOL-PERP"], ["SOL-PERP", "long", null]].map(
                ([symbol, side, hedge]) => hedgeLongRefusal({ symbol }, side, hedge) !== ""),
            ids: Array.from({ length: 3 }, newCommandId),
        };
    }""")
    assert answers["compact"] == ["$72M", "$21.7M", "$1.2B", "$512.85K", "$999", "-$2.5M"]
    assert answers["pct"] == ["+8.48%", "+0.0010%", "$1,234.50", "-$0.18"]
    assert answers["sizes"] == ["1.5", "invalid", "invalid", "invalid", "invalid", "invalid",
                                "invalid", "invalid", "invalid"]  # "2,5": 2.5 or 25?
    assert "at most" in answers["tooBig"]
    # 1 s, doubled up to a 5 s cap, each shortened by up to 20 % at random (never lengthened).
    assert answers["backoff"] == [1000, 2000, 4000, 5000, 5000, 5000]
    assert answers["jittered"] == [800, 1600, 3200, 4000, 4000]
    assert all(4000 <= delay <= 5000 for delay in answers["random"])
    assert len(set(answers["random"])) > 1
    assert answers["unsettled"] == [2.5, -3]
    assert answers["top"] == ["B", "D", "A"]  # |APR|, tradable only
    assert answers["sides"] == ["short", "long"]
    assert answers["refusals"] == [True, False, False, False]   # only a long on the hedge market
    assert len(set(answers["ids"])) == 3   # one id per command, valid in a frame's id field
    assert all(re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", ident) for ident in answers["ids"])


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


async def test_a_trade_over_100_usd_needs_confirmation_and_auto_cancels_after_30_s(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    before = await account(system.stubs)
    await dashboard.open_take_modal("SOL-PERP")
    await dashboard.submit_take("2")

    confirm = page.get_by_test_id("confirm-modal")
    await expect(confirm).to_be_visible(timeout=10_000)
    details = page.get_by_test_id("confirm-details")
    for key, text in [("market", "SOL-PERP"), ("side", "SHORT"), ("size", "2")]:
        await expect(details.locator(f'[data-detail="{key}"]')).to_have_text(text)
    for key in ("price", "notional", "fees"):
        await expect(details.locator(f'[data-detail="{key}"]')).to_have_text(USD)
    await expect(page.get_by_test_id("confirm-countdown")).to_have_text("30")
    await dashboard.screenshot(screenshots, "03-confirmation")
    sent = dashboard.commands("DRIFT_OPEN_POSITION")
    assert [frame["payload"]["confirmation_id"] for frame in sent] == [""]

    await page.clock.fast_forward(10_000)
    await expect(page.get_by_test_id("confirm-countdown")).to_have_text("20")
    await page.clock.fast_forward(21_000)
    await expect(confirm).to_be_hidden()
    await expect(page.get_by_test_id("toast-warning")).to_contain_text("timed out")

    await asyncio.sleep(1.0)  # a late send would reach the engine within this
    assert len(dashboard.commands("DRIFT_OPEN_POSITION")) == 1
    after = await account(system.stubs)
    assert list(after.positions) == list(before.positions) == []
    assert after.collateral == before.collateral
    await expect(page.get_by_test_id("position-row")).to_have_count(0)


async def test_a_refused_trade_shows_an_error_toast_with_its_code_and_message(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    await dashboard.open_take_modal("SOL-PERP")
    await dashboard.submit_take("50000")  # ~$4.3M against $1,000 of collateral

    toast = page.get_by_test_id("toast-error")
    await expect(toast).to_be_visible(timeout=10_000)
    code = await toast.get_by_test_id("toast-code").inner_text()
    assert code in {"LEVERAGE_LIMIT", "INSUFFICIENT_COLLATERAL", "SIZE_LIMIT", "HEALTH_LIMIT"}
    await expect(toast.get_by_test_id("toast-message")).not_to_be_empty()
    await expect(page.get_by_test_id("take-error")).to_contain_text(code)
    await expect(page.get_by_test_id("take-submit")).to_be_enabled()
    await expect(page.get_by_test_id("confirm-modal")).to_be_hidden()
    await dashboard.screenshot(screenshots, "04-error-toast")
    assert list((await account(system.stubs)).positions) == []


async def buy_sol_from_the_quick_action(dashboard: Dashboard, size: str) -> None:
    page = dashboard.page
    await page.get_by_test_id("quick-buy-sol").click()
    await page.get_by_test_id("amount-input").fill(size)
    await page.get_by_test_id("amount-submit").click()
    await expect(page.get_by_test_id("confirm-modal")).to_be_visible(timeout=10_000)
    await page.get_by_test_id("confirm-submit").click()
    await expect(page.get_by_test_id("toast-success").filter(has_text="Swap")).to_be_visible(
        timeout=10_000
    )


async def hedge_size(system: RunningSystem) -> str:
    """The short that neutralises the wallet's SOL: spot minus the gas reserve."""
    state = await account(system.stubs)
    return str(Decimal(state.wallet.sol) - RESERVED_SOL)


async def test_the_send_button_spins_and_stays_disabled_until_the_command_result_arrives(
    browser: Browser, system: RunningSystem
) -> None:
    held: list[str] = []
    holding = True

    async def gateway(route: WebSocketRoute) -> None:
        server = route.connect_to_server()
        route.on_message(server.send)

        def from_server(message: str | bytes) -> None:
            if holding and isinstance(message, str) and '"COMMAND_RESULT"' in message:
                held.append(message)
            else:
                route.send(message)

        server.on_message(from_server)
        routes.append(route)

    routes: list[WebSocketRoute] = []

    async def route_socket(context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/ws$"), gateway)

    dashboard = await Dashboard.open(browser, system, prepare=route_socket)
    try:
        page = dashboard.page
        await dashboard.wait_connected()
        await dashboard.open_take_modal("SOL-PERP")
        await dashboard.submit_take("50000")
        submit = page.get_by_test_id("take-submit")
        await wait_for(lambda: held)
        await expect(submit).to_be_disabled()
        await expect(submit).to_have_text("Sending…")
        await expect(submit.locator(".spinner")).to_be_visible()

        holding = False
        routes[0].send(held.pop())
        await expect(submit).to_be_enabled()
        await expect(submit).to_have_text("Review & send")
        await expect(page.get_by_test_id("take-error")).not_to_be_empty()
    finally:
        await dashboard.close()


async def test_a_confirmed_trade_appears_in_the_positions_and_leaving_removes_it(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    await buy_sol_from_the_quick_action(dashboard, "2")
    size = await hedge_size(system)
    await dashboard.take_and_confirm("SOL-PERP", size)

    opened = page.get_by_test_id("toast-success").filter(has_text="Open position")
    await expect(opened).to_be_visible(timeout=10_000)
    row = dashboard.position_row("SOL-PERP")
    await expect(row).to_be_visible(timeout=10_000)  # drawn from a FUNDING_UPDATE
    await expect(row.get_by_test_id("position-size")).to_have_text(size.rstrip("0").rstrip("."))
    await expect(row).to_contain_text("Short")
    assert perp_size(await account(system.stubs)) == -Decimal(size)
    # The confirmation sent back is the id of the engine's quote, and nothing else confirms.
    confirmed = [f for f in dashboard.commands("DRIFT_OPEN_POSITION")
                 if f["payload"]["confirmation_id"]]
    quotes = [f["payload"]["confirmation"]["confirmation_id"]
              for f in dashboard.received_results("DRIFT_OPEN_POSITION")
              if f["payload"].get("confirmation")]
    assert [f["payload"]["confirmation_id"] for f in confirmed] == quotes[-1:]
    assert all("confirmed" not in f["payload"] for f in dashboard.commands("DRIFT_OPEN_POSITION"))
    assert any(frame.get("type") == "FUNDING_UPDATE" and frame["payload"]["positions"]
               for frame in dashboard.received)
    await dashboard.screenshot(screenshots, "05-position-open")

    spot_before = Decimal((await account(system.stubs)).wallet.sol)
    await dashboard.position_row("SOL-PERP").get_by_test_id("leave-button").click()
    # Leaving the carry offers to sell its spot leg too, checked by default.
    await expect(page.get_by_test_id("leave-unwind")).to_be_checked()
    await page.get_by_test_id("leave-modal").get_by_role("button", name="Cancel").click()
    await dashboard.leave("SOL-PERP")
    await expect(page.get_by_test_id("positions-empty")).to_be_visible()
    sold = min(Decimal(size), spot_before - Decimal("0.017"))

    async def spot_leg_sold() -> bool:
        # A tick may show the closed short before the spot leg's sale lands.
        return Decimal((await account(system.stubs)).wallet.sol) == spot_before - sold

    await wait_for(spot_leg_sold)
    assert perp_size(await account(system.stubs)) == 0
    closes = dashboard.commands("DRIFT_CLOSE_POSITION")
    assert [bool(frame["payload"]["confirmation_id"]) for frame in closes] == [False, True]
    assert all(frame["payload"]["unwind_spot"] for frame in closes)


async def health_at(system: RunningSystem, price: Decimal) -> Decimal:
    await system.stubs.replay.SetPriceScenario(
        feed_pb2.SetPriceScenarioRequest(market="SOL-PERP", oracle_price=str(price))
    )
    return Decimal((await account(system.stubs)).health_ratio)


async def rally_until_health_between(system: RunningSystem, low: int, high: int) -> Decimal:
    """Moves SOL up (bisection: a short's health falls as the price rises) until the venue's
    health is within [low, high]; answers that price."""
    below, above = Decimal(85), Decimal(400)
    for _ in range(30):
        price = ((below + above) / 2).quantize(Decimal("0.001"))
        health = await health_at(system, price)
        if low <= health <= high:
            return price
        if health > high:
            below = price
        else:
            above = price
    raise AssertionError(f"no SOL price gives health in [{low}, {high}]")


async def test_health_alert_banner_appears_when_sol_rallies_against_a_leveraged_short(
    dashboard: Dashboard, system: RunningSystem, screenshots: Path
) -> None:
    page = dashboard.page
    banner = page.get_by_test_id("health-banner")
    await buy_sol_from_the_quick_action(dashboard, "40")
    size = await hedge_size(system)  # ~43 SOL: ~3.7x on $1,000 of collateral
    await dashboard.take_and_confirm("SOL-PERP", size)
    await expect(dashboard.position_row("SOL-PERP")).to_be_visible(timeout=10_000)
    await expect(banner).to_be_hidden()
    try:
        await rally_until_health_between(system, 30, 45)
        await expect(banner).to_be_visible(timeout=10_000)
        await expect(banner).to_have_attribute("data-level", "warning")
        await expect(banner).to_contain_text("below 50")
        health_text = await page.get_by_test_id("health-value").inner_text()
        assert 30 <= float(health_text.rstrip("%")) <= 45
        await dashboard.screenshot(screenshots, "06-health-alert")
        await page.clock.fast_forward(11_000)  # auto-dismissed after 10 s
        await expect(banner).to_be_hidden()

        await rally_until_health_between(system, 5, 15)
        await expect(banner).to_be_visible(timeout=10_000)
        await expect(banner).to_have_attribute("data-level", "critical")
        await page.get_by_test_id("health-banner-dismiss").click()
        await expect(banner).to_be_hidden()

        # Far over $1 unsettled, so the row offers Settle PnL; it answers with a toast.
        row = dashboard.position_row("SOL-PERP")
        await row.get_by_test_id("settle-button").click()
        settled = page.get_by_test_id("toast-success").filter(has_text="Settle PnL")
        await expect(settled).to_be_visible(timeout=10_000)
        # Settled like Drift: the open position's PnL moved into collateral, nothing left over $1.
        await expect(row.get_by_test_id("settle-button")).to_have_count(0, timeout=10_000)
        settles = dashboard.commands("DRIFT_SETTLE_PNL")
        assert [frame["payload"] for frame in settles] == [{"market": "SOL-PERP"}]
    finally:
        await system.stubs.replay.ClearPriceScenario(feed_pb2.ClearPriceScenarioRequest())
    await wait_for(lambda: health_back_above(system, 50))
    await dashboard.leave("SOL-PERP")
    assert perp_size(await account(system.stubs)) == 0


async def health_back_above(system: RunningSystem, floor: int) -> bool:
    return Decimal((await account(system.stubs)).health_ratio) > floor


async def test_phone_viewport_renders_without_horizontal_page_overflow(
    browser: Browser, system: RunningSystem, screenshots: Path
) -> None:
    phone = await Dashboard.open(browser, system, viewport=PHONE)
    try:
        page = phone.page
        await phone.wait_connected()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        # The wide funding table scrolls inside its own box instead.
        scrolls = await page.get_by_test_id("funding-table").evaluate(
            "t => t.parentElement.scrollWidth > t.parentElement.clientWidth"
        )
        assert scrolls
        for test_id in ("account-panel", "positions-panel", "markets-panel", "opportunity-card"):
            box = await page.get_by_test_id(test_id).first.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], test_id
        await phone.screenshot(screenshots, "07-mobile", full_page=True)
    finally:
        await phone.close()


async def test_a_dropped_socket_shows_reconnecting_and_backs_off_from_1_s_to_5_s(
    browser: Browser, system: RunningSystem
) -> None:
    attempts: list[WebSocketRoute] = []
    gateway_back = False

    async def gateway(route: WebSocketRoute) -> None:
        attempts.append(route)
        if gateway_back:
            route.connect_to_server()
        else:
            await route.close(code=1011, reason="gateway restarting")

    async def route_socket(context: BrowserContext) -> None:
        await context.route_web_socket(re.compile(r"/ws$"), gateway)

    dashboard = await Dashboard.open(browser, system, fake_clock=True, prepare=route_socket)
    try:
        page = dashboard.page
        status = page.get_by_test_id("connection-status")
        # Each wait is shortened by up to 20 %, so its whole seconds read the same.
        for attempt, delay in enumerate([1, 2, 4, 5, 5, 5], start=1):
            await expect(status).to_have_attribute("data-state", "reconnecting")
            await expect(status).to_have_text(f"Reconnecting in {delay} s")
            assert len(attempts) == attempt
            await page.clock.fast_forward(delay * 1000)
            await wait_for(lambda attempt=attempt: len(attempts) > attempt)
        gateway_back = True
        await expect(status).to_have_text(re.compile(r"Reconnecting in \d+ s"))
        await expect(page.get_by_test_id("connection-banner")).to_contain_text(
            "Reconnecting to the gateway")
        await page.clock.fast_forward(5_000)
        await expect(status).to_have_attribute("data-state", "open", timeout=10_000)
        await expect(status).to_have_text("Live")
        await expect(page.get_by_test_id("connection-banner")).to_be_hidden()
    finally:
        await dashboard.close()


async def test_markets_show_the_gateways_503_message_and_the_age_of_stale_data(
    browser: Browser, system: RunningSystem
) -> None:
    real = await markets_from_api(system)
    answers = [
        {"status": 503, "json": {"error": {"code": "FEED_UNAVAILABLE", "details": {},
                                           "message": "the feed did not answer within 2 s"}}},
        {"status": 200, "json": {**real, "data_age_seconds": 600.0, "stale": True}},
    ]

    async def markets(route: Route) -> None:
        await route.fulfill(**answers.pop(0))

    context = await browser.new_context()
    try:
        await context.route(re.compile(r"/api/drift/markets$"), markets)
        page = await context.new_page()
        await page.goto(f"{system.gateway_url}/?token={system.api_token}")
        error = page.get_by_test_id("markets-error")
        await expect(error).to_contain_text("the feed did not answer within 2 s")
        await expect(error).to_contain_text("FEED_UNAVAILABLE")
        await expect(page.get_by_test_id("market-row")).to_have_count(0)

        await page.locator("#markets-refresh").click()
        await expect(page.get_by_test_id("market-row").first).to_be_visible()
        await expect(error).to_be_hidden()
        await expect(page.get_by_test_id("markets-freshness")).to_have_text("stale · 10 min old")
    finally:
        await context.close()


async def test_engine_stop_and_start_and_a_deposit_from_the_dashboard(
    dashboard: Dashboard, system: RunningSystem
) -> None:
    page = dashboard.page
    engine = page.get_by_test_id("engine-status")
    await expect(engine).to_have_text("Engine running (paper)")
    await page.get_by_test_id("engine-stop").click()
    await expect(engine).to_have_text("Engine stopped", timeout=10_000)
    await expect(page.get_by_test_id("engine-start")).to_be_enabled()
    await expect(page.get_by_test_id("engine-stop")).to_be_disabled()

    await page.get_by_test_id("engine-start").click()
    await expect(engine).to_have_text("Engine running (paper)", timeout=10_000)
    await expect(page.get_by_test_id("engine-stop")).to_be_enabled()

    before = Decimal((await account(system.stubs)).collateral)
    await page.get_by_test_id("quick-deposit").click()
    await page.get_by_test_id("amount-input").fill("50")
    await page.get_by_test_id("amount-submit").click()
    await expect(page.get_by_test_id("toast-success").filter(has_text="Deposit")).to_be_visible(
        timeout=10_000
    )
    assert Decimal((await account(system.stubs)).collateral) == before + 50
    collateral = f"${before + 50:,.2f}"
    await expect(page.get_by_test_id("collateral-value")).to_have_text(collateral, timeout=10_000)
