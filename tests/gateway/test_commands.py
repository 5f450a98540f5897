"""WebSocket commands through the real gateway to the real engine: every command answered with
its id within 5 s (property 39), a code and a message on failure (40), and the new position
broadcast within 1 s of a position change (8, 17)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from dne.feed.v1 import feed_pb2
from services.common.timeutil import to_timestamp
from tests.gateway.conftest import UNLIMITED
from tests.integration.flow import account
from tests.kit.gateway_client import Browser, browser
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
GATEWAY_ENV = UNLIMITED
# Keep the auto-rebalancer out of the way: these tests move the position by hand.
ENGINE_ENV = {"MIN_TRADE_SIZE_SOL": "1000"}
# SOL-PERP funding is positive on this day: shorts are paid, so a short passes the
# profitability gate.
POSITIVE_FUNDING_DAY = datetime(2026, 1, 18, 12, tzinfo=UTC)
COMMAND_DEADLINE = 5.0
BROADCAST_DEADLINE = 1.0


async def timed(client: Browser, action: str, payload: dict | None = None) -> dict:
    started = time.monotonic()
    result = await client.command(action, payload, timeout=COMMAND_DEADLINE)
    assert time.monotonic() - started < COMMAND_DEADLINE
    assert result["payload"]["action"] == action
    if not result["payload"]["ok"]:
        error = result["payload"]["error"]
        assert error["code"] and error["message"], result
    return result


async def ensure_running(client: Browser) -> None:
    result = await timed(client, "START_ENGINE", {"mode": "paper"})
    ok = result["payload"]["ok"]
    assert ok or result["payload"]["error"]["code"] == "ENGINE_ALREADY_RUNNING", result


def position_of(update: dict, market: str) -> dict | None:
    return next((p for p in update["payload"]["positions"] if p["market"] == market), None)


async def broadcast_delay(client: Browser, since: float, after: int, predicate) -> float:
    """Seconds from `since` until a FUNDING_UPDATE matching `predicate` arrived."""
    stamp, _ = await client.wait_for(
        lambda m: m["type"] == "FUNDING_UPDATE" and predicate(m), timeout=5, after=after)
    return stamp - since


async def test_a_delta_neutral_trade_round_trip_confirms_fills_broadcasts_and_closes(
    system: RunningSystem,
):
    await system.stubs.replay.SetClock(feed_pb2.SetClockRequest(
        now=to_timestamp(POSITIVE_FUNDING_DAY), paused=True, set_paused=True))
    async with browser(system) as client:
        await ensure_running(client)
        deposit = await timed(client, "DRIFT_DEPOSIT", {"amount": "2000"})
        assert deposit["payload"]["ok"], deposit
        assert deposit["payload"]["order"]["status"] == "FILLED"
        assert deposit["payload"]["order"]["filled_size"] == 2000.0

        trade = {"market": "SOL-PERP", "direction": "short", "size": "3"}
        unconfirmed = await timed(client, "DRIFT_OPEN_POSITION", trade)
        assert unconfirmed["payload"]["ok"] is False
        error = unconfirmed["payload"]["error"]
        assert error["code"] == "CONFIRMATION_REQUIRED"
        assert {"market", "side", "size", "price", "notional", "fees"} <= set(error["details"])
        assert error["details"]["market"] == "SOL-PERP" and error["details"]["size"] == "3"
        assert float(error["details"]["notional"]) > 100
        quote = unconfirmed["payload"]["confirmation"]
        assert quote["size"] == 3.0 and quote["notional"] > 100 and quote["valid_for_ms"] > 0
        # A flag the client sets itself confirms nothing: only the engine's quote id does.
        flagged = await timed(client, "DRIFT_OPEN_POSITION", {**trade, "confirmed": True})
        assert flagged["payload"]["error"]["code"] == "CONFIRMATION_REQUIRED"

        after = len(client.messages)
        opened = await timed(client, "DRIFT_OPEN_POSITION",
                             {**trade, "confirmation_id": quote["confirmation_id"]})
        opened_at = time.monotonic()
        assert opened["payload"]["ok"], opened
        assert opened["payload"]["order"]["status"] == "FILLED"
        assert opened["payload"]["order"]["side"] == "short"
        delay = await broadcast_delay(
            client, opened_at, after,
            lambda m: (p := position_of(m, "SOL-PERP")) is not None and p["size"] == 3.0)
        assert delay < BROADCAST_DEADLINE
        _, update = await client.wait_for(
            lambda m: m["type"] == "FUNDING_UPDATE" and position_of(m, "SOL-PERP") is not None,
            after=after)
        position = position_of(update, "SOL-PERP")
        assert position["side"] == "short" and update["payload"]["perp_sol"] == -3.0
        assert isinstance(position["entry_price"], float)

        after = len(client.messages)
        asked = await timed(client, "DRIFT_CLOSE_POSITION", {"market": "SOL-PERP"})
        closed = await timed(client, "DRIFT_CLOSE_POSITION", {
            "market": "SOL-PERP",
            "confirmation_id": asked["payload"]["confirmation"]["confirmation_id"]})
        closed_at = time.monotonic()
        assert closed["payload"]["ok"], closed
        delay = await broadcast_delay(client, closed_at, after,
                                      lambda m: position_of(m, "SOL-PERP") is None)
        assert delay < BROADCAST_DEADLINE


async def test_a_new_browser_gets_engine_status_and_the_last_funding_update(system):
    async with browser(system) as client:
        await ensure_running(client)
    async with browser(system) as client:
        _, first = await client.wait_for(lambda m: True)
        _, update = await client.wait_for(lambda m: m["type"] == "FUNDING_UPDATE", timeout=2)
    assert first["type"] == "ENGINE_STATUS" and first["payload"]["running"] is True
    assert {"health", "leverage", "positions", "total_collateral", "maintenance_margin",
            "net_delta", "mode", "wallet_usdc", "trading_enabled"} <= set(update["payload"])


@pytest.mark.parametrize(("action", "payload", "code"), [
    ("DRIFT_OPEN_POSITION", {"market": "DOGE-PERP", "direction": "long", "size": "1"},
     "INVALID_MARKET"),
    ("DRIFT_OPEN_POSITION", {"market": "SOL-PERP", "direction": "sideways", "size": "1"},
     "INVALID_DIRECTION"),
    ("DRIFT_OPEN_POSITION", {"market": "SOL-PERP", "direction": "long", "size": "-1"},
     "INVALID_SIZE"),
    ("DRIFT_WITHDRAW", {"amount": "999999999"}, "INSUFFICIENT_COLLATERAL"),
    ("DRIFT_DEPOSIT", {"amount": "0.0000001"}, "INVALID_AMOUNT"),
    ("DRIFT_CLOSE_POSITION", {"market": "BTC-PERP"}, "NO_POSITION"),
    ("START_ENGINE", {"mode": "demo"}, "INVALID_MODE"),
    ("START_ENGINE", {"mode": "paper"}, "ENGINE_ALREADY_RUNNING"),
])
async def test_property_40_a_failed_command_answers_its_id_a_code_and_a_message(
    system, action, payload, code,
):
    async with browser(system) as client:
        await ensure_running(client)
        result = await timed(client, action, payload)
    assert result["payload"]["ok"] is False
    assert result["payload"]["error"]["code"] == code, result
    assert result["payload"]["message"]


async def test_property_39_a_burst_of_commands_is_answered_within_5_s_each(system):
    async with browser(system) as client:
        await ensure_running(client)
        started = time.monotonic()
        ids = [f"burst-{index}" for index in range(20)]
        for ident in ids:
            await client.send({"action": "PING" if int(ident[6:]) % 2 else "DRIFT_SETTLE_PNL",
                               "id": ident, "payload": {} if int(ident[6:]) % 2
                               else {"market": "SOL-PERP"}})
        for ident in ids:
            stamp, result = await client.wait_for(
                lambda m, ident=ident: m["type"] == "COMMAND_RESULT" and m["id"] == ident)
            assert stamp - started < COMMAND_DEADLINE
            assert result["payload"]["ok"] or result["payload"]["error"]["code"]


async def test_a_command_retried_on_a_new_connection_trades_once_and_answers_the_replay(system):
    """A browser that lost its socket and sends the same command again (same id) on a new one
    is the same user retrying: one deposit, and the retry answers the first outcome."""
    async with browser(system) as first:
        await ensure_running(first)
    before = Decimal((await account(system.stubs)).collateral)
    frame = {"action": "DRIFT_DEPOSIT", "id": "retried-deposit-1", "payload": {"amount": "7"}}
    results = []
    for _ in range(2):   # the first answer is lost with its connection
        async with browser(system) as connection:
            await connection.send(frame)
            _, result = await connection.wait_for(
                lambda m: m["type"] == "COMMAND_RESULT" and m["id"] == frame["id"])
            results.append(result["payload"])
    after_both = Decimal((await account(system.stubs)).collateral)
    first_answer, retry = results
    assert first_answer["ok"] and retry["ok"], results
    assert after_both == before + 7   # one deposit, not two
    assert first_answer["order"]["replayed"] is False
    assert retry["order"]["replayed"] is True
    assert retry["order"]["tx_signature"] == first_answer["order"]["tx_signature"]


async def test_status_reports_the_running_engine_and_its_snapshot(system):
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        reply = await client.get("/api/status",
                                 headers={"Authorization": f"Bearer {system.api_token}"})
    assert reply.status_code == 200
    assert reply.json()["engine"]["running"] is True
    assert reply.json()["snapshot"]["mode"] == "paper"
