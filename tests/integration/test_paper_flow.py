"""Issue 2's end-to-end flow through gRPC only, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.feed.v1 import feed_pb2
from dne.vault.v1 import vault_pb2
from tests.integration.flow import (
    EventRecorder,
    account,
    advance_hours,
    pause_clock_at,
    perp_size,
    request_id,
    vault_key,
    wait_for,
)
from tests.kit.confirmations import confirm_stub
from tests.kit.databases import postgres_schema, sqlite_url
from tests.kit.system import RunningSystem, Stubs, running_system

DAILY_FUNDING = Path(__file__).parents[2] / "data/drift/daily_funding_SOL_BTC_ETH_2026.json"
# 2026-01-15: SOL-PERP funding was positive (longs paid shorts), so a short carry is profitable.
START = datetime(2026, 1, 15, 12, tzinfo=UTC)
RESERVED_SOL = Decimal("0.017")


def recorded_sol_rate(day: str) -> Decimal:
    records = json.loads(DAILY_FUNDING.read_text())["markets"]["SOL-PERP"]
    return Decimal(str(next(r["avgRate"] for r in records if r["date"] == day)))


@pytest.fixture(params=["sqlite", "postgresql"])
async def system(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningSystem]:
    engine_env = {"REBALANCE_COOLDOWN_SEC": "7200"}
    if request.param == "sqlite":
        async with running_system(tmp_path, sqlite_url(tmp_path), engine_env=engine_env) as running:
            yield running
    else:
        async with postgres_schema() as url, running_system(
            tmp_path, url, engine_env=engine_env
        ) as running:
            yield running


async def test_paper_carry_trade_end_to_end_through_grpc(system: RunningSystem) -> None:
    stubs = system.stubs
    await pause_clock_at(stubs, START)
    events = EventRecorder(stubs)
    sent: list[str] = []

    started = await stubs.engine.StartEngine(engine_pb2.StartEngineRequest(
        request_id=request_id(), mode="paper"))
    assert started.result.ok, started.result.error
    assert started.status.running and started.status.mode == "paper"

    # Spot leg: buy 10 SOL through the simulated swap; then collateral.
    rid = request_id()
    bought = await confirm_stub(stubs.engine.Swap, engine_pb2.SwapRequest(
        request_id=rid, direction="buy", size="10"))
    assert bought.result.ok, bought.result.error
    sent.append(rid)
    rid = request_id()
    deposited = await stubs.engine.Deposit(engine_pb2.DepositRequest(request_id=rid, amount="5000"))
    assert deposited.result.ok, deposited.result.error
    sent.append(rid)

    state = await account(stubs)
    spot = Decimal(state.wallet.sol)
    assert spot == Decimal(11)
    hedge = spot - RESERVED_SOL
    rid = request_id()
    opened = await confirm_stub(stubs.engine.OpenPosition, engine_pb2.OpenPositionRequest(
        request_id=rid, market="SOL-PERP", direction="short", size=str(hedge)))
    assert opened.result.ok, opened.result.error
    sent.append(rid)
    assert perp_size(await account(stubs)) == -hedge

    # Four funding hours on the replay clock: each pays size x recorded rate x oracle price.
    price = Decimal((await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="SOL-PERP")))
                    .price.oracle_price)
    await advance_hours(stubs, 4)
    key = await vault_key(stubs)

    async def four_payments() -> object:
        reply = await stubs.vault.ListFundingPayments(vault_pb2.ListFundingPaymentsRequest(key=key))
        return reply if len(reply.payments) == 4 else None

    payments = await wait_for(four_payments)
    expected_each = hedge * recorded_sol_rate("2026-01-15") * price
    assert Decimal(payments.total) == pytest.approx(4 * expected_each, rel=Decimal("1e-9"))
    assert Decimal(payments.total) > 0  # positive rate: the short receives
    for payment in payments.payments:
        assert Decimal(payment.amount) == pytest.approx(expected_each, rel=Decimal("1e-9"))

    # The hedge drifts: half a SOL more spot. One rebalance expands the short by exactly that.
    rid = request_id()
    assert (await stubs.engine.Swap(engine_pb2.SwapRequest(
        request_id=rid, direction="buy", size="0.5"))).result.ok
    sent.append(rid)
    await wait_for(events.rebalances, timeout=10)
    assert perp_size(await account(stubs)) == -(hedge + Decimal("0.5"))
    rebalance = events.rebalances()[0]
    assert rebalance.plan.action == "expand_short"
    assert Decimal(rebalance.plan.correction_size) == Decimal("0.5")

    # Inside the cooldown (2 h of market time, the clock is paused): drift again, no rebalance.
    rid = request_id()
    assert (await stubs.engine.Swap(engine_pb2.SwapRequest(
        request_id=rid, direction="buy", size="0.5"))).result.ok
    sent.append(rid)
    plan = await wait_for(lambda: _skip_reason(stubs, "cooldown"), timeout=5)
    assert plan
    await asyncio.sleep(1.5)  # several ticks
    assert len(events.rebalances()) == 1
    assert perp_size(await account(stubs)) == -(hedge + Decimal("0.5"))
    # After the cooldown the second drift is corrected.
    await advance_hours(stubs, 2.1)
    await wait_for(lambda: len(events.rebalances()) == 2, timeout=10)
    assert perp_size(await account(stubs)) == -(hedge + Decimal(1))

    # Leave: close the short, withdraw collateral.
    rid = request_id()
    closed = await confirm_stub(stubs.engine.ClosePosition, engine_pb2.ClosePositionRequest(
        request_id=rid, market="SOL-PERP", settle_pnl=True))
    assert closed.result.ok, closed.result.error
    sent.append(rid)
    assert perp_size(await account(stubs)) == 0
    rid = request_id()
    withdrawn = await stubs.engine.Withdraw(
        engine_pb2.WithdrawRequest(request_id=rid, amount="4000")
    )
    assert withdrawn.result.ok, withdrawn.result.error
    sent.append(rid)

    # Every trade is in the vault, filled, with the fields of property 46.
    trades = (await stubs.vault.ListTrades(vault_pb2.ListTradesRequest(key=key))).trades
    by_id = {trade.client_order_id: trade for trade in trades}
    for rid in sent:
        assert by_id[rid].status == common_pb2.TRADE_STATUS_FILLED, by_id[rid]
        assert by_id[rid].tx_signature and by_id[rid].created_at.seconds
    rebalance_trades = [t for t in trades if t.kind == common_pb2.TRADE_KIND_PERP_REBALANCE]
    assert len(rebalance_trades) == 2
    assert all(t.status == common_pb2.TRADE_STATUS_FILLED for t in rebalance_trades)
    status = (await stubs.vault.GetVaultStatus(vault_pb2.GetVaultStatusRequest(key=key))).status
    assert status.pending_trades == 0
    assert Decimal(status.realized_funding_pnl) >= 4 * expected_each * Decimal("0.999999")
    await events.close()


async def _skip_reason(stubs: Stubs, reason: str) -> object:
    reply = await stubs.engine.CheckRebalance(engine_pb2.CheckRebalanceRequest(simulate=True))
    return reply.plan if reply.plan.skip_reason == reason else None

