"""Logs of properties 46, 47, 49 and 50, and no alarm for an account with nothing at risk."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from dne.engine.v1 import engine_pb2 as E
from services.engine import commands
from tests.kit.confirmations import confirm_quoted
from tests.kit.engine_fakes import EngineHarness


async def test_trade_state_gate_and_profitability_logs_carry_their_fields(
    running: EngineHarness, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    engine = running.engine
    assert (await engine.trade(commands.deposit(  # type: ignore[attr-defined]
        E.DepositRequest(request_id="d", amount="2000")))).ok
    assert (await confirm_quoted(lambda confirmation_id: engine.trade(  # type: ignore
        commands.open_position(E.OpenPositionRequest(
            request_id="o", market="SOL-PERP", direction="short", size="2",
            confirmation_id=confirmation_id))))).ok
    running.executor.latency_ms = 1000
    assert not (await engine.trade(commands.deposit(  # type: ignore[attr-defined]
        E.DepositRequest(request_id="late", amount="1")))).ok

    def record(message: str) -> logging.LogRecord:
        return next(r for r in caplog.records if r.getMessage() == message)

    trade = record("trade executed")
    assert trade.levelno == logging.INFO
    for field in ("timestamp", "market", "side", "size", "price", "tx_signature"):
        assert getattr(trade, field), field
    state = record("account state")
    for field in ("health_ratio", "leverage", "total_collateral", "free_collateral"):
        assert hasattr(state, field), field
    profit = record("profitability")
    assert Decimal(profit.net_profit) == (  # type: ignore[attr-defined]
        Decimal(profit.expected_revenue) - Decimal(profit.estimated_costs))  # type: ignore
    blocked = record("trade blocked by a safety gate")
    assert blocked.levelno == logging.WARNING and blocked.code == "LATENCY_TOO_HIGH"  # type: ignore


async def test_an_empty_account_raises_no_health_alert_whatever_health_the_venue_reports(
    running: EngineHarness,
) -> None:
    alerts = running.engine.bus.subscribe([E.EVENT_TYPE_HEALTH_ALERT])  # type: ignore
    running.executor.sub(0).quote = Decimal(0)
    await running.engine.tick()  # type: ignore[attr-defined]
    assert alerts.queue.empty()
