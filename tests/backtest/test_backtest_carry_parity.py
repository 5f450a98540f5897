"""The carry through the running services and through the backtester, both deciding with the
engine's gates and settings, from the same wallet (10,000 USDC and the 0.017 SOL gas reserve):

at 2026-01-15 00:00 the engine's hedged entry of a 10 SOL-PERP short is refused by its
profitability gate in both, with the same reason word for word; an hour later both take it,
buying the same 10 SOL spot leg first, then shorting; 24 hours on, both close the short and sell
the spot leg. The four fills, their fees and every hourly funding payment agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import pytest_asyncio

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.executor.v1 import executor_pb2
from dne.vault.v1 import vault_pb2
from services.backtest.data import BacktestData
from services.backtest.runner import BacktestRun, run_backtest
from services.backtest.strategies import Carry
from services.common.timeutil import from_timestamp, to_timestamp
from services.engine.settings import EngineSettings
from services.feed.settings import DEFAULT_DATA_DIR
from tests.integration.flow import advance_hours, pause_clock_at, request_id
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import sqlite_url
from tests.kit.system import FAST_ENGINE_ENV, RunningSystem, running_system

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 15, tzinfo=UTC)
HELD_HOURS = 24
SIZE = Decimal(10)
CAPITAL = Decimal(10_000)
GAS_RESERVE = "0.017"   # the engine's default reserved_sol: the backtest wallet holds it too
MICRO = Decimal("0.000001")
SETTINGS = EngineSettings.model_construct(
    profit_horizon_hours=Decimal(FAST_ENGINE_ENV["PROFIT_HORIZON_HOURS"]))
DATA = BacktestData.load(DEFAULT_DATA_DIR)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("carry-parity")
    wallet = {"PAPER_START_USDC": str(CAPITAL), "PAPER_START_SOL": GAS_RESERVE}
    async with running_system(var, sqlite_url(var), executor_env=wallet) as running:
        yield running


def backtest() -> BacktestRun:
    return asyncio.run(run_backtest(
        DATA, Carry(SIZE, settings=SETTINGS), START,
        START + timedelta(hours=1 + HELD_HOURS), CAPITAL, settings=SETTINGS))


def hedged_entry(system: RunningSystem):  # type: ignore[no-untyped-def]
    return confirm_stub(system.stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
        request_id=request_id(), market="SOL-PERP", direction="short", size=str(SIZE)))


@pytest.mark.asyncio(loop_scope="module")
async def test_the_services_and_the_backtester_run_the_same_carry(system: RunningSystem) -> None:
    stubs = system.stubs
    await pause_clock_at(stubs, START)
    started = await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
        request_id=request_id(), mode="paper"))
    assert started.result.ok, started.result.error
    kept = Carry(SIZE).wallet_usdc(CAPITAL, DATA, START)   # the spot leg's USDC stays
    deposited = await stubs.engine.Deposit(engine_pb2.DepositRequest(
        request_id=request_id(), amount=str(CAPITAL - kept)))
    assert deposited.result.ok, deposited.result.error

    refused = await hedged_entry(system)
    assert refused.result.error.code == "UNPROFITABLE", refused.result.error
    await advance_hours(stubs, 1)
    entered = await hedged_entry(system)
    assert entered.result.ok, entered.result.error
    await advance_hours(stubs, HELD_HOURS)
    payments = (await stubs.executor.GetAccountState(_with_all_payments())).state
    left = await confirm_stub(stubs.engine.ClosePosition, engine_pb2.ClosePositionRequest(
        request_id=request_id(), market="SOL-PERP", unwind_spot=True))
    assert left.result.ok, left.result.error

    expected = await asyncio.to_thread(backtest)
    [refusal] = expected.ledger.refusals
    assert (refusal.time, refusal.code) == (START, refused.result.error.code)
    assert refusal.reason == refused.result.error.message
    trades = (await stubs.vault.ListTrades(_filled_trades())).trades
    # The fills: not the deposit, nor the close's PnL settlement (no fill: quote moves only).
    not_fills = (common_pb2.TRADE_KIND_DEPOSIT, common_pb2.TRADE_KIND_SETTLE_PNL)
    fills = sorted((t for t in trades if t.kind not in not_fills),
                   key=lambda t: (from_timestamp(t.created_at), t.client_order_id))
    long, short = common_pb2.SIDE_LONG, common_pb2.SIDE_SHORT
    assert [(t.market, _kind(t), t.side) for t in fills] == [
        ("SOL", "spot_buy", long), ("SOL-PERP", "perp_open", short),
        ("SOL-PERP", "perp_close", long), ("SOL", "spot_sell", short)]
    for fill, record in zip(fills, expected.ledger.trades, strict=True):
        assert _kind(fill) == record.kind
        assert Decimal(fill.filled_size) == record.size
        assert Decimal(fill.price) == record.price
        assert abs(Decimal(fill.fee or "0") - record.fee_usd) < MICRO
    paid = sorted((from_timestamp(p.period_start), Decimal(p.amount))
                  for p in payments.funding_payments if p.market == "SOL-PERP")
    assert [hour for hour, _ in paid] == [row.time for row in expected.ledger.hours]
    assert len(paid) == HELD_HOURS
    for (hour, amount), row in zip(paid, expected.ledger.hours, strict=True):
        assert abs(amount - row.funding_usd) < MICRO, hour


def _kind(trade: common_pb2.Trade) -> str:
    return common_pb2.TradeKind.Name(trade.kind).removeprefix("TRADE_KIND_").lower()


def _with_all_payments() -> executor_pb2.GetAccountStateRequest:
    request = executor_pb2.GetAccountStateRequest(sub_account=0)
    request.funding_since.CopyFrom(to_timestamp(START - timedelta(hours=1)))
    return request


def _filled_trades() -> vault_pb2.ListTradesRequest:
    return vault_pb2.ListTradesRequest(
        key=vault_pb2.VaultKey(account="paper-wallet", sub_account=0),
        statuses=[common_pb2.TRADE_STATUS_FILLED])
