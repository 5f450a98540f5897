"""Vault sync retry (36), failure handling (37), never trading blind (45), the outbox."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from dne.common.v1 import common_pb2 as K
from dne.engine.v1 import engine_pb2 as E
from services.common.venue import OrderKind, OrderResult, OrderStatus
from services.engine import commands
from services.engine.ledger import Ledger
from tests.kit.engine_fakes import EngineHarness, build_engine


async def deposit(h: EngineHarness, amount: str, rid: str) -> E.CommandResult:
    return await h.engine.trade(  # type: ignore[attr-defined]
        commands.deposit(E.DepositRequest(request_id=rid, amount=amount)))


@settings(max_examples=100)
@given(failures=st.integers(min_value=0, max_value=8))
def test_property_36_sync_retries_three_times_waiting_1_2_4_seconds(failures: int) -> None:
    async def attempt() -> tuple[list[float], bool, int]:
        harness = build_engine()
        await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
        harness.sleeps.clear()
        harness.vault.sync_failures = failures
        harness.vault.sync_calls = 0
        await harness.engine.tick()  # type: ignore[attr-defined]
        enabled = harness.engine.status().trading_enabled  # type: ignore[attr-defined]
        await harness.engine.shutdown()  # type: ignore[attr-defined]
        return harness.sleeps, enabled, harness.vault.sync_calls

    sleeps, enabled, calls = asyncio.run(attempt())
    assert sleeps == [1.0, 2.0, 4.0][: min(failures, 3)]
    assert calls == min(failures + 1, 4)  # one try and at most three retries
    assert enabled == (failures <= 3)


@settings(max_examples=100)
@given(delays=st.lists(st.sampled_from([0.1, 0.5, 1.0, 3.0]), min_size=1, max_size=5))
def test_property_36_the_retry_schedule_follows_the_configured_delays(
    delays: list[float],
) -> None:
    async def attempt() -> list[float]:
        harness = build_engine(vault_retry_delays_sec=",".join(map(str, delays)))
        await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
        harness.sleeps.clear()
        harness.vault.sync_failures = 100
        await harness.engine.tick()  # type: ignore[attr-defined]
        await harness.engine.shutdown()  # type: ignore[attr-defined]
        return harness.sleeps

    assert asyncio.run(attempt()) == delays


@settings(max_examples=100)
@given(extra=st.integers(min_value=0, max_value=5), amount=st.integers(1, 500))
def test_property_37_sync_failing_after_the_retries_emits_an_error_and_disables_trading(
    extra: int, amount: int,
) -> None:
    async def attempt() -> tuple[list[E.EngineEvent], E.CommandResult, int]:
        harness = build_engine()
        await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
        errors = harness.engine.bus.subscribe([E.EVENT_TYPE_VAULT_SYNC_ERROR])  # type: ignore
        harness.vault.sync_failures = 4 + extra
        await harness.engine.tick()  # type: ignore[attr-defined]
        refused = await deposit(harness, str(amount), "after")
        await harness.engine.shutdown()  # type: ignore[attr-defined]
        events = [errors.queue.get_nowait() for _ in range(errors.queue.qsize())]
        return events, refused, len(harness.executor.order_calls)

    events, refused, orders_sent = asyncio.run(attempt())
    assert len(events) == 1
    assert events[0].vault_sync_error.attempts == 4
    assert events[0].vault_sync_error.error.code == "VAULT_SYNC_ERROR"
    assert refused.error.code == "TRADING_DISABLED" and "ResetVault" in refused.error.message
    assert orders_sent == 0


async def test_reset_vault_re_enables_trading_after_a_sync_error(running: EngineHarness) -> None:
    engine = running.engine
    running.vault.sync_failures = 4
    await engine.tick()  # type: ignore[attr-defined]
    status = engine.status()  # type: ignore[attr-defined]
    assert not status.trading_enabled and "vault sync failed" in status.blocked_reason
    running.vault.available = False
    failed = await engine.reset_vault("reset-1")  # type: ignore[attr-defined]
    assert failed.error.code == "VAULT_SYNC_ERROR" and failed.error.message
    running.vault.available = True
    reset = await engine.reset_vault("reset-2")  # type: ignore[attr-defined]
    assert reset.ok and engine.status().trading_enabled  # type: ignore[attr-defined]
    assert (await deposit(running, "10", "after-reset")).ok


async def test_a_sync_error_clears_by_itself_once_the_vault_answers_again(
    running: EngineHarness,
) -> None:
    engine = running.engine
    running.vault.sync_failures = 4
    await engine.tick()  # type: ignore[attr-defined]
    assert "vault sync failed" in engine.status().blocked_reason  # type: ignore[attr-defined]
    running.vault.available = False
    await engine.tick()  # type: ignore[attr-defined]
    assert engine.status().blocked_reason  # type: ignore[attr-defined]  # still away: blocked
    running.vault.available = True
    await engine.tick()  # type: ignore[attr-defined]
    assert engine.status().trading_enabled  # type: ignore[attr-defined]  # no ResetVault needed
    assert (await deposit(running, "10", "after-recovery")).ok


async def test_a_stop_drops_the_run_s_view_of_the_vault_and_a_start_builds_it_anew(
    running: EngineHarness,
) -> None:
    engine = running.engine
    running.vault.sync_failures = 4
    await engine.tick()  # type: ignore[attr-defined]
    assert engine.sync_error is not None  # type: ignore[attr-defined]
    await engine.shutdown()  # type: ignore[attr-defined]
    assert engine.sync_error is None and engine.unknown_positions == []  # type: ignore
    # The next run starts from the vault's answer to its own OpenVault, not from the last run's.
    assert (await engine.start("paper", 0, "again")).ok  # type: ignore[attr-defined]
    assert engine.status().trading_enabled  # type: ignore[attr-defined]
    assert (await deposit(running, "10", "next-run")).ok


async def test_property_45_trades_are_refused_while_the_sync_is_retrying() -> None:
    harness = build_engine()
    engine = harness.engine
    answers: list[E.CommandResult] = []

    async def trade_during_the_wait(seconds: float) -> None:
        answers.append(await deposit(harness, "10", f"during-{seconds}"))

    engine._synchronizer._sleep = trade_during_the_wait  # type: ignore[attr-defined]
    assert (await engine.start("paper", 0, "s")).ok  # type: ignore[attr-defined]
    harness.vault.sync_failures = 2
    await engine.tick()  # type: ignore[attr-defined]
    assert [a.error.code for a in answers] == ["TRADING_DISABLED", "TRADING_DISABLED"]
    assert "re-syncing" in answers[0].error.message
    assert engine.status().trading_enabled  # type: ignore[attr-defined]  # recovered
    assert harness.executor.order_calls == []
    await engine.shutdown()  # type: ignore[attr-defined]


async def test_an_unreachable_vault_refuses_the_trade_before_the_venue(
    running: EngineHarness,
) -> None:
    running.vault.available = False
    refused = await deposit(running, "10", "blind")
    assert refused.error.code == "VAULT_UNAVAILABLE" and refused.error.message
    assert running.executor.order_calls == []
    running.vault.available = True
    running.vault.failing = {"RecordIntent"}
    assert (await deposit(running, "10", "blind-2")).error.code == "VAULT_UNAVAILABLE"
    assert running.executor.order_calls == []


async def test_a_completion_the_vault_missed_waits_in_the_outbox_and_blocks_trading(
    running: EngineHarness,
) -> None:
    engine = running.engine
    running.vault.failing = {"CompleteTrade", "SyncAccount"}
    done = await deposit(running, "100", "outboxed")
    assert done.ok  # the venue filled it: the answer says so
    assert running.vault.trades["outboxed"].status == K.TRADE_STATUS_PENDING
    blocked = await deposit(running, "5", "next")
    assert blocked.error.code == "TRADING_DISABLED" and "vault" in blocked.error.message
    running.vault.failing = set()
    await engine.tick()  # type: ignore[attr-defined]
    assert running.vault.trades["outboxed"].status == K.TRADE_STATUS_FILLED
    assert engine.status().trading_enabled  # type: ignore[attr-defined]
    assert (await deposit(running, "5", "next-2")).ok
    assert running.executor.sub(0).quote == Decimal(105)


class _RefusingVault:
    """A vault that answers CompleteTrade with one fixed gRPC status."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code
        self.calls = 0

    async def CompleteTrade(self, request, timeout=None, wait_for_ready=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        raise grpc.aio.AioRpcError(
            self.code, grpc.aio.Metadata(), grpc.aio.Metadata(), "refused by test")


async def test_a_completion_the_vault_refuses_for_good_is_not_kept_to_block_trading() -> None:
    vault = _RefusingVault(grpc.StatusCode.FAILED_PRECONDITION)
    ledger = Ledger(vault, "paper-wallet", 0)  # type: ignore[arg-type]
    written = await ledger.complete("conflict", _filled_deposit("conflict"))
    assert written is False
    assert ledger.outbox == []


async def test_a_completion_the_vault_could_not_hear_is_kept_in_the_outbox() -> None:
    vault = _RefusingVault(grpc.StatusCode.UNAVAILABLE)
    ledger = Ledger(vault, "paper-wallet", 0)  # type: ignore[arg-type]
    written = await ledger.complete("lost", _filled_deposit("lost"))
    assert written is False
    assert [pending.client_order_id for pending in ledger.outbox] == ["lost"]


def _filled_deposit(client_order_id: str) -> OrderResult:
    return OrderResult(client_order_id, OrderKind.DEPOSIT, OrderStatus.FILLED, "USDC",
                       filled_size=Decimal(5))
