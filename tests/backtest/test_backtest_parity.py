"""One scripted scenario through the running services and through the backtester, both deciding
with the engine's gates: at 2026-02-15 00:00 a BTC-PERP long of 0.05 is refused by the
profitability gate (longs paid 2.678e-5 an hour the day before) with the same reason, word for
word; a short of 0.05 passes, is held 48 hours on the replay clock, and closed. The fills, fees
and every hourly funding payment agree to the micro-dollar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from dne.engine.v1 import engine_pb2
from dne.executor.v1 import executor_pb2
from services.backtest.data import BacktestData
from services.backtest.runner import BacktestRun, run_backtest
from services.backtest.strategies import Hold
from services.common.timeutil import from_timestamp
from services.common.venue import Side
from services.engine.settings import EngineSettings
from services.feed.settings import DEFAULT_DATA_DIR
from tests.integration.flow import advance_hours, pause_clock_at, request_id
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import sqlite_url
from tests.kit.system import FAST_ENGINE_ENV, RunningSystem, running_system

pytestmark = pytest.mark.integration

START = datetime(2026, 2, 15, tzinfo=UTC)
HOURS = 48
SIZE = "0.05"
CAPITAL = "10000"   # the paper venue's starting wallet, all of it deposited
MICRO = Decimal("0.000001")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("parity")
    async with running_system(var, sqlite_url(var)) as running:
        yield running


def backtest(side: Side, hours: int = HOURS) -> BacktestRun:
    # The gates decide with the running engine's settings (the test kit's profit horizon).
    settings = EngineSettings.model_construct(
        profit_horizon_hours=Decimal(FAST_ENGINE_ENV["PROFIT_HORIZON_HOURS"]))
    return asyncio.run(run_backtest(
        BacktestData.load(DEFAULT_DATA_DIR),
        Hold("BTC-PERP", side, Decimal(SIZE), gated=True),
        START, START + timedelta(hours=hours), Decimal(CAPITAL), settings=settings))


@pytest.mark.asyncio(loop_scope="module")
async def test_the_services_and_the_backtester_make_the_same_decisions_trades_and_payments(
    system: RunningSystem,
) -> None:
    stubs = system.stubs
    await pause_clock_at(stubs, START)
    started = await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
        request_id=request_id(), mode="paper"))
    assert started.result.ok, started.result.error
    deposited = await stubs.engine.Deposit(engine_pb2.DepositRequest(
        request_id=request_id(), amount=CAPITAL))
    assert deposited.result.ok, deposited.result.error
    refused = await confirm_stub(stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
        request_id=request_id(), market="BTC-PERP", direction="long", size=SIZE))
    assert not refused.result.ok and refused.result.error.code == "UNPROFITABLE"
    backtested = (await asyncio.to_thread(backtest, Side.LONG, 1)).ledger
    assert backtested.trades == [] and backtested.refusals[0].time == START
    assert backtested.refusals[0].code == refused.result.error.code
    assert backtested.refusals[0].reason == refused.result.error.message
    opened = await confirm_stub(stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
        request_id=request_id(), market="BTC-PERP", direction="short", size=SIZE))
    assert opened.result.ok, opened.result.error
    await advance_hours(stubs, HOURS)
    state = (await stubs.executor.GetAccountState(
        executor_pb2.GetAccountStateRequest(sub_account=0))).state
    closed = await confirm_stub(stubs.engine.ClosePosition, engine_pb2.ClosePositionRequest(
        request_id=request_id(), market="BTC-PERP"))
    assert closed.result.ok, closed.result.error

    expected = await asyncio.to_thread(backtest, Side.SHORT)
    assert expected.ledger.refusals == []
    paid = sorted((from_timestamp(p.period_start), Decimal(p.amount))
                  for p in state.funding_payments if p.market == "BTC-PERP")
    assert len(paid) == HOURS and all(amount > 0 for _, amount in paid)   # shorts received
    assert [hour for hour, _ in paid] == [row.time for row in expected.ledger.hours]
    for (hour, amount), row in zip(paid, expected.ledger.hours, strict=True):
        assert abs(amount - row.funding_usd) < MICRO, hour
    for order, trade in zip((opened.result.order, closed.result.order), expected.ledger.trades,
                            strict=True):
        assert Decimal(order.fill_price) == trade.price
        assert Decimal(order.oracle_price) == trade.oracle_price
        assert abs(Decimal(order.fee) - trade.fee_usd) < MICRO
