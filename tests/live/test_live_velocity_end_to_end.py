"""Velocity end to end through the gateway: every service on VENUE_PROFILE=velocity, against the
stand-in serving Velocity's layouts (the recorded Drift markets re-encoded, labelled so). What a
browser sends, what Velocity's program receives (decoded with Velocity's IDL from the wire), and
what the vault keeps: the carry's round trip in USDT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio

from dne.common.v1 import common_pb2
from services.common.venue_profile import load_profile
from tests.integration.flow import account, perp_size
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import browser
from tests.kit.system import RunningSystem, running_system
from tests.live.test_live_end_to_end import control, journal, open_short, trades

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
VELOCITY = load_profile("velocity")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("live-velocity")
    async with running_system(
        var, sqlite_url(var), gateway=True, live_sim=True,
        common_env={"VENUE_PROFILE": "velocity"},
        feed_env={"CACHE_TTL_SEC": "1", "PRICE_REFRESH_SEC": "0.5"},
        venue_sim_env={"SIM_ORACLE_KEEPER_SEC": "0.4"},
        executor_env={"CONFIRM_WAIT_SECONDS": "1", "CONFIRM_POLL_SECONDS": "0.5",
                      "CONFIRM_POLL_TOTAL_SECONDS": "2"},
        gateway_env={"RATE_LIMIT_MARKETS": "600/minute", "RATE_LIMIT_POSITION_OPS": "600/minute",
                     "RATE_LIMIT_WS_COMMANDS": "100/second"},
    ) as running:
        # Funding on SOL-PERP turns positive (longs pay shorts): a short carry earns it.
        await control(running, "/_control/funding", {"market_index": 0, "rate_1h": "0.0002"})
        await asyncio.sleep(1.5)
        async with browser(running) as page:
            started = await page.command("START_ENGINE", {"mode": "live"})
            assert started["payload"]["ok"], started
        yield running


def sent_to_velocity(entries: list[dict], name: str) -> list[dict]:
    return [ix for entry in entries if entry["method"] == "sendTransaction"
            for ix in entry["instructions"] if ix["name"] == name]


async def test_the_stand_in_and_every_service_serve_velocity(live: RunningSystem) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        config = (await http.get(f"{live.gateway_url}/api/config")).json()
        markets = (await http.get(f"{live.gateway_url}/api/drift/markets")).json()
        history = await http.get(f"{live.gateway_url}/api/drift/markets/SOL-PERP/funding")
    assert (config["mode_label"], config["venue"], config["quote_symbol"]) == (
        "LIVE (SIMULATED VENUE)", "Velocity", "USDT")
    assert markets["source"] == "velocity"
    assert {"SOL-PERP", "BTC-PERP", "ETH-PERP"} <= {m["symbol"] for m in markets["markets"]}
    # Velocity publishes no Data API: the feed says so at once, not after a timeout
    assert history.status_code == 404, history.text
    assert "names no Data API" in history.json()["error"]["message"]
    manifest = await control(live, "/_control/manifest", method="GET")
    assert (manifest["program_id"], manifest["quote_mint"]) == (VELOCITY.program_id,
                                                                VELOCITY.quote_mint)


async def test_the_carry_round_trip_on_velocity_through_the_gateway(live: RunningSystem) -> None:
    async with browser(live) as page:
        deposited = await page.command("DRIFT_DEPOSIT", {"amount": "2000"}, timeout=15)
        assert deposited["payload"]["ok"], deposited
        assert deposited["payload"]["message"] == "DRIFT_DEPOSIT done: 2000 USDT"
        before = await journal(live)
        opened = await open_short(page, "2")
        assert opened["payload"]["ok"], opened
        assert "spot leg bought" in opened["payload"]["message"]
        _, update = await page.wait_for(lambda m: m["type"] == "FUNDING_UPDATE" and any(
            p["market"] == "SOL-PERP" and p["side"] == "short" for p in m["payload"]["positions"]),
            timeout=10)
        assert perp_size(await account(live.stubs)) == Decimal(-2)
        # the wallet's USDT paid the spot leg: 10,000 funded, 2,000 deposited, about 86 for the
        # ~1.02 SOL the wallet lacked to hedge 2 SOL short (it held 1 SOL)
        assert 7_880 < update["payload"]["wallet_usdc"] < 7_940

        orders = sent_to_velocity((await journal(live))[len(before):], "place_perp_order")
        assert len(orders) == 1
        (order,) = orders
        assert order["program_id"] == VELOCITY.program_id
        params = order["args"]["params"]
        assert (params["market_index"], params["base_asset_amount"], params["direction"]) == (
            0, 2_000_000_000, "Short")
        # Velocity's OrderParams: an i64 oracle offset (unset) and its builder fields
        assert params["oracle_price_offset"] is None and "builder_fee_tenth_bps" in params
        assert set(order["named_accounts"]) >= {"state", "user", "authority"}

        closed = await page.confirmed_command("DRIFT_CLOSE_POSITION", {
            "market": "SOL-PERP", "unwind_spot": True}, timeout=15)
        assert closed["payload"]["ok"], closed
        assert perp_size(await account(live.stubs)) == 0
        closes = sent_to_velocity(await journal(live), "place_perp_order")[-1]["args"]["params"]
        assert closes["reduce_only"] and closes["direction"] == "Long"
        withdrawn = await page.command("DRIFT_WITHDRAW", {"amount": "1000"}, timeout=15)
        assert withdrawn["payload"]["ok"], withdrawn
        (withdrawal,) = sent_to_velocity(await journal(live), "withdraw")
        assert withdrawal["args"]["reduce_only"] is True

    filled = [t for t in (await trades(live)).values()
              if t.status == common_pb2.TRADE_STATUS_FILLED]
    kinds = {common_pb2.TradeKind.Name(t.kind) for t in filled}
    assert {"TRADE_KIND_DEPOSIT", "TRADE_KIND_PERP_OPEN", "TRADE_KIND_PERP_CLOSE",
            "TRADE_KIND_SPOT_BUY", "TRADE_KIND_SPOT_SELL", "TRADE_KIND_WITHDRAW"} <= kinds
    assert all(t.tx_signature for t in filled)


async def test_a_paused_velocity_program_refuses_through_the_gateway(
    live: RunningSystem,
) -> None:
    await control(live, "/_control/exchange", {"paused": True})
    try:
        async with browser(live) as page:
            refused = await page.command("DRIFT_DEPOSIT", {"amount": "10"}, timeout=15)
        assert not refused["payload"]["ok"]
        assert refused["payload"]["error"]["code"] in ("VENUE_HALTED", "TRADING_HALTED")
    finally:
        await control(live, "/_control/exchange", {"paused": False})
