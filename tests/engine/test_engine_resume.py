"""Issue 10: the engine resumes by itself after its process is killed and restarted. Paper
resumes and warns about any difference; live resumes only on a clean reconciliation."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from dne.common.v1 import common_pb2 as K
from dne.engine.v1 import engine_pb2 as E
from services.common.timeutil import to_timestamp
from services.common.venue import OrderKind, Side
from services.common.venue_wire import account_state_of
from services.engine.engine_state import Balances, EngineStateFile
from services.engine.resume import reconcile_resume
from services.engine.trade_request import TradeRequest
from tests.kit.engine_fakes import START, EngineHarness, build_engine, restarted_engine

SUB = 2


def alerts(subscription, level: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    while not subscription.queue.empty():
        event = subscription.queue.get_nowait()
        if event.type == E.EVENT_TYPE_HEALTH_ALERT and event.health_alert.level == level:
            found.append(event.health_alert.message)
    return found


def perp(h: EngineHarness, market: str = "SOL-PERP") -> Decimal:
    position = h.executor.sub(SUB).positions.get(market)
    return position.size if position else Decimal(0)


def carry(h: EngineHarness, spot: str, short: str) -> None:
    """A carry on sub-account SUB: spot SOL in the wallet, a SOL-PERP short, collateral."""
    h.executor.wallet_sol = Decimal(spot)
    h.executor.wallet_usdc -= Decimal(2000)
    h.executor.sub(SUB).quote += Decimal(2000)
    h.executor.set_position("SOL-PERP", -Decimal(short), sub_account=SUB)


async def started(tmp_path: Path, mode: str = "paper") -> EngineHarness:
    h = build_engine(engine_state_path=str(tmp_path / "engine.json"))
    if mode == "live":
        h.executor.venue = "drift"
    result = await h.engine.start(mode, SUB, "start-1")  # type: ignore[attr-defined]
    assert result.ok, result.error
    return h


def kill(h: EngineHarness) -> None:
    """kill -9: the process ends where it is; nothing it did not write survives."""
    task = h.engine._loop_task  # type: ignore[attr-defined]
    if task is not None:
        task.cancel()


async def restart(h: EngineHarness, tmp_path: Path) -> EngineHarness:
    again = restarted_engine(h, engine_state_path=str(tmp_path / "engine.json"))

    async def yielding_sleep(seconds: float) -> None:  # retry waits recorded, not slept
        h.sleeps.append(seconds)
        await asyncio.sleep(0)

    again.engine._sleep = yielding_sleep  # type: ignore[attr-defined]
    return again


async def resumed(h: EngineHarness, tmp_path: Path) -> EngineHarness:
    again = await restart(h, tmp_path)
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    return again


async def killed_with_an_order_landing(tmp_path: Path) -> EngineHarness:
    """A live engine killed while a short it sent is still landing at the venue."""
    first = await started(tmp_path, "live")
    carry(first, "12.483", "11.483")
    await first.engine.tick()  # type: ignore[attr-defined]
    first.executor.pending_methods = {"OpenPosition"}
    request = TradeRequest("open-1", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "SOL-PERP",
                           Side.SHORT, Decimal(1), confirmed=True)
    result = await first.engine.trade(request)  # type: ignore[attr-defined]
    assert result.error.code == "ORDER_PENDING", result.error  # sent, not confirmed yet
    kill(first)
    return first


def saved(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((tmp_path / "engine.json").read_text())


async def test_paper_resumes_with_its_mode_sub_account_cooldown_and_position(
    tmp_path: Path,
) -> None:
    first = await started(tmp_path)
    carry(first, "11.5", "10.983")
    await first.engine.tick()  # type: ignore[attr-defined]  # drifted: rebalances
    assert perp(first) == Decimal("-11.483")
    cooldown_from = first.engine.last_rebalance  # type: ignore[attr-defined]
    assert cooldown_from is not None
    kill(first)

    again = await resumed(first, tmp_path)
    engine = again.engine
    status = engine.status()  # type: ignore[attr-defined]
    assert status.running and status.trading_enabled, status.blocked_reason
    assert (status.mode, status.sub_account) == ("paper", SUB)
    assert engine.last_rebalance == cooldown_from  # type: ignore[attr-defined]
    assert perp(again) == Decimal("-11.483")
    again.executor.wallet_sol += Decimal("0.5")
    again.clock.advance(60)
    await engine.tick()  # type: ignore[attr-defined]
    assert perp(again) == Decimal("-11.483")  # inside the cooldown: nothing sent
    await engine.shutdown()  # type: ignore[attr-defined]


async def test_the_resume_says_what_it_reconciled(tmp_path: Path) -> None:
    first = await started(tmp_path)
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    again = await restart(first, tmp_path)
    results = again.engine.bus.subscribe([E.EVENT_TYPE_COMMAND_RESULT])  # type: ignore[attr-defined]
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    messages = [results.queue.get_nowait().command_result.message
                for _ in range(results.queue.qsize())]
    assert any("resumed after a restart in paper mode" in m and "agree" in m for m in messages)
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_a_sigterm_keeps_started_so_the_next_start_resumes(tmp_path: Path) -> None:
    first = await started(tmp_path)
    await first.engine.shutdown()  # type: ignore[attr-defined]
    assert saved(tmp_path)["started"] is True
    again = await resumed(first, tmp_path)
    assert again.engine.status().running  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_after_stop_engine_a_restart_does_not_resume(tmp_path: Path) -> None:
    first = await started(tmp_path)
    assert (await first.engine.stop("stop-1")).ok  # type: ignore[attr-defined]
    again = await restart(first, tmp_path)
    assert not again.engine.resume_if_started()  # type: ignore[attr-defined]
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and status.blocked_reason == "the engine is stopped"


async def test_a_critical_stop_is_not_resumed_by_a_restart(tmp_path: Path) -> None:
    first = await started(tmp_path)
    await first.engine._critical_stop("the short did not follow the spot")  # type: ignore[attr-defined]
    again = await restart(first, tmp_path)
    assert not again.engine.resume_if_started()  # type: ignore[attr-defined]
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running
    assert "critical stop: the short did not follow the spot" in status.blocked_reason


async def test_the_resume_waits_for_an_executor_that_is_away_and_says_so(
    tmp_path: Path,
) -> None:
    first = await started(tmp_path)
    kill(first)
    first.executor.available = False
    first.sleeps.clear()
    again = await restart(first, tmp_path)
    engine = again.engine
    assert engine.resume_if_started()  # type: ignore[attr-defined]
    for _ in range(10_000):  # the resume's attempts run on the loop: let six fail
        if len(first.sleeps) >= 6:
            break
        await asyncio.sleep(0)
    status = engine.status()  # type: ignore[attr-defined]
    assert not status.running and not status.trading_enabled
    assert status.blocked_reason.startswith("resuming after a restart (paper mode, sub-account 2)")
    assert "executor" in status.blocked_reason
    assert first.sleeps[:6] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    refused = await engine.start("paper", SUB, "start-2")  # type: ignore[attr-defined]
    assert refused.error.code == "ENGINE_ALREADY_RUNNING" and "resuming" in refused.error.message
    first.executor.available = True
    await engine.wait_resumed()  # type: ignore[attr-defined]
    assert engine.status().running and engine.status().trading_enabled  # type: ignore[attr-defined]
    await engine.shutdown()  # type: ignore[attr-defined]


async def test_stop_engine_during_the_resume_cancels_it_for_good(tmp_path: Path) -> None:
    first = await started(tmp_path)
    kill(first)
    first.vault.available = False
    again = await restart(first, tmp_path)
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    stopped = await again.engine.stop("stop-1")  # type: ignore[attr-defined]
    assert stopped.ok and "cancelled" in stopped.message
    first.vault.available = True
    assert not again.engine.resuming  # type: ignore[attr-defined]
    assert not again.engine.status().running  # type: ignore[attr-defined]
    assert saved(tmp_path)["started"] is False
    third = await restart(first, tmp_path)
    assert not third.engine.resume_if_started()  # type: ignore[attr-defined]


async def test_live_resume_is_refused_when_the_venue_holds_a_position_the_vault_does_not_know(
    tmp_path: Path,
) -> None:
    first = await started(tmp_path, "live")
    carry(first, "11.483", "11.483")
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    first.executor.set_position("BTC-PERP", Decimal("0.1"), sub_account=SUB)  # opened elsewhere

    again = await restart(first, tmp_path)
    critical = again.engine.bus.subscribe([E.EVENT_TYPE_HEALTH_ALERT])  # type: ignore[attr-defined]
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and not status.trading_enabled
    assert "live resume refused" in status.blocked_reason
    assert "BTC-PERP long 0.1" in status.blocked_reason
    [alert] = alerts(critical, "CRITICAL")
    assert "did not resume" in alert and "BTC-PERP long 0.1" in alert
    vault = next(iter(first.vault.statuses.values()))
    assert [p.market for p in vault.positions] == ["SOL-PERP"]  # nothing cleared silently
    assert saved(tmp_path)["started"] is False  # a person starts it again
    assert (await again.engine.start("live", SUB, "start-2")).ok  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_live_resume_is_refused_when_money_left_the_wallet_meanwhile(
    tmp_path: Path,
) -> None:
    first = await started(tmp_path, "live")
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    first.executor.wallet_usdc -= Decimal(500)
    again = await resumed(first, tmp_path)
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and "wallet USDC 10000 -> 9500" in status.blocked_reason


async def test_live_resumes_when_the_venue_vault_and_state_agree(tmp_path: Path) -> None:
    first = await started(tmp_path, "live")
    carry(first, "11.483", "11.483")
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    again = await resumed(first, tmp_path)
    status = again.engine.status()  # type: ignore[attr-defined]
    assert status.running and status.mode == "live" and status.trading_enabled
    assert again.engine.resume_report.clean  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_live_resume_counts_an_order_the_venue_filled_while_the_engine_was_away(
    tmp_path: Path,
) -> None:
    first = await killed_with_an_order_landing(tmp_path)
    first.executor.pending_methods = set()
    [sent] = first.executor.landing
    first.executor.confirm(sent)  # it landed while the engine was down
    again = await resumed(first, tmp_path)
    report = again.engine.resume_report  # type: ignore[attr-defined]
    assert report.intents == {"filled": 1}
    assert report.clean, report.differences()
    assert again.engine.status().running  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_paper_resumes_despite_a_difference_and_warns_about_it(tmp_path: Path) -> None:
    first = await started(tmp_path)
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    first.executor.set_position("ETH-PERP", Decimal("-2"), sub_account=SUB)
    again = await restart(first, tmp_path)
    warnings = again.engine.bus.subscribe([E.EVENT_TYPE_HEALTH_ALERT])  # type: ignore[attr-defined]
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    assert again.engine.status().running  # type: ignore[attr-defined]
    [warning] = alerts(warnings, "WARNING")
    assert "with differences" in warning and "ETH-PERP short 2" in warning
    await again.engine.shutdown()  # type: ignore[attr-defined]


def test_a_state_file_of_version_1_loads_as_stopped_with_its_cooldown(tmp_path: Path) -> None:
    path = tmp_path / "engine.json"
    path.write_text(json.dumps({
        "version": 1, "last_rebalance": "2025-03-01T12:00:00+00:00", "rebalance_failures": 2,
        "rebalance_retry_at": None, "open_entries": {"e1": {
            "request_id": "e1", "market": "SOL-PERP", "size": "1", "spot_size": "1"}}}))
    state = EngineStateFile(str(path)).load()
    assert not state.started and state.mode == ""
    assert state.last_rebalance is not None and state.last_rebalance.hour == 12
    assert state.rebalance_failures == 2 and list(state.open_entries) == ["e1"]
    EngineStateFile(str(path)).save(state)
    assert json.loads(path.read_text())["version"] == 2


def test_a_quote_balance_moved_by_the_funding_paid_meanwhile_is_no_difference() -> None:
    recorded = Balances(quote_balance="2000", wallet_usdc="8000", wallet_sol="11",
                        collateral="2000", as_of=START)
    wire = K.AccountState(quote_balance="2001.5", collateral="2001.5",
                          wallet=K.Wallet(usdc="8000", sol="11"))
    wire.funding_payments.append(K.FundingPayment(  # paid at 13:00, after the record
        payment_id="0:SOL-PERP:1", market="SOL-PERP", amount="1.5", side=K.SIDE_SHORT,
        period_start=to_timestamp(START)))
    wire.funding_payments.append(K.FundingPayment(  # paid before the record: not counted
        payment_id="0:SOL-PERP:0", market="SOL-PERP", amount="7", side=K.SIDE_SHORT,
        period_start=to_timestamp(START - timedelta(hours=1))))
    venue = account_state_of(wire)
    report = reconcile_resume(known=[], venue=venue, recorded=recorded, resolved=[])
    assert report.clean, report.differences()
    # and 100 USDC more left the sub-account
    report = reconcile_resume(known=[], venue=replace(venue, quote_balance=Decimal("1901.5")),
                              recorded=recorded, resolved=[])
    assert report.balance_differences == ["quote balance 2000 -> 1901.5"]


async def test_nothing_trades_while_the_resume_reconciles(tmp_path: Path) -> None:
    first = await started(tmp_path, "live")
    await first.engine.tick()  # type: ignore[attr-defined]
    kill(first)
    again = await restart(first, tmp_path)
    reached, release = asyncio.Event(), asyncio.Event()
    real = again.executor.GetAccountState

    async def held(request, context=None, **kwargs):  # type: ignore[no-untyped-def]
        reached.set()
        await release.wait()
        return await real(request, context, **kwargs)

    again.executor.GetAccountState = held  # type: ignore[method-assign]
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    await reached.wait()  # the reconciliation reads the venue
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and status.blocked_reason.startswith("resuming after a restart")
    request = TradeRequest("open-2", "DRIFT_OPEN_POSITION", OrderKind.PERP_OPEN, "SOL-PERP",
                           Side.SHORT, Decimal(1), confirmed=True)
    refused = await again.engine.trade(request)  # type: ignore[attr-defined]
    assert refused.error.code == "TRADING_DISABLED"
    release.set()
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    assert again.engine.status().running  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]


async def test_live_resume_is_refused_while_an_order_from_before_has_an_unknown_outcome(
    tmp_path: Path,
) -> None:
    first = await killed_with_an_order_landing(tmp_path)
    [sent] = first.executor.landing
    first.executor.confirm(sent, unknown=True)  # the venue never says what became of it
    again = await resumed(first, tmp_path)
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and "unknown outcome" in status.blocked_reason


async def test_the_resume_waits_for_an_order_the_venue_has_not_decided_yet(
    tmp_path: Path,
) -> None:
    first = await killed_with_an_order_landing(tmp_path)
    first.sleeps.clear()
    again = await restart(first, tmp_path)
    assert again.engine.resume_if_started()  # type: ignore[attr-defined]
    for _ in range(10_000):
        if len(first.sleeps) >= 3:
            break
        await asyncio.sleep(0)
    status = again.engine.status()  # type: ignore[attr-defined]
    assert not status.running and "await the venue's confirmation" in status.blocked_reason
    [sent] = first.executor.landing
    first.executor.confirm(sent)
    await again.engine.wait_resumed()  # type: ignore[attr-defined]
    assert again.engine.status().running  # type: ignore[attr-defined]
    assert again.engine.resume_report.intents == {"filled": 1}  # type: ignore[attr-defined]
    await again.engine.shutdown()  # type: ignore[attr-defined]
