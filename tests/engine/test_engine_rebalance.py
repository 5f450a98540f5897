"""Auto-rebalancing in the tick and CheckRebalance: cooldown on market time, property 24."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dne.common.v1 import common_pb2 as K
from dne.engine.v1 import engine_pb2 as E
from services.common.timeutil import from_timestamp
from tests.kit.engine_fakes import START, EngineHarness, build_engine, hedge


def perp(h: EngineHarness) -> Decimal:
    position = h.executor.sub(0).positions.get("SOL-PERP")
    return position.size if position else Decimal(0)


def rebalance_events(subscription) -> list[E.RebalanceEvent]:  # type: ignore[no-untyped-def]
    return [subscription.queue.get_nowait().rebalance for _ in range(subscription.queue.qsize())]


async def test_one_rebalance_then_none_inside_the_cooldown_then_again_after_it(
    running: EngineHarness,
) -> None:
    engine = running.engine
    events = engine.bus.subscribe([E.EVENT_TYPE_REBALANCE])  # type: ignore[attr-defined]
    hedge(running.executor, Decimal("11.5"), Decimal("10.983"))  # half a SOL unhedged
    await engine.tick()  # type: ignore[attr-defined]
    assert perp(running) == Decimal("-11.483")
    (event,) = rebalance_events(events)
    assert event.result.ok and event.plan.action == "expand_short"
    assert Decimal(event.plan.correction_size) == Decimal("0.5")
    assert from_timestamp(engine.status().last_rebalance) == START  # type: ignore[attr-defined]
    trade = running.vault.trades[event.result.request_id]
    assert trade.kind == K.TRADE_KIND_PERP_REBALANCE and trade.source == "rebalance"
    assert trade.status == K.TRADE_STATUS_FILLED

    running.executor.wallet_sol += Decimal("0.5")  # drifts again
    running.clock.advance(1799)  # market time; the wall clock is irrelevant
    await engine.tick()  # type: ignore[attr-defined]
    assert rebalance_events(events) == [] and perp(running) == Decimal("-11.483")
    plan, result = await engine.check_rebalance(True, "")  # type: ignore[attr-defined]
    assert plan.skip_reason == "cooldown" and result is None
    assert from_timestamp(plan.cooldown_until) == START + _seconds(1800)

    running.clock.advance(1)
    await engine.tick()  # type: ignore[attr-defined]
    assert len(rebalance_events(events)) == 1 and perp(running) == Decimal("-11.983")


def _seconds(n: int):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(seconds=n)


async def test_a_failed_rebalance_leaves_last_rebalance_unchanged(running: EngineHarness) -> None:
    engine = running.engine
    events = engine.bus.subscribe([E.EVENT_TYPE_REBALANCE])  # type: ignore[attr-defined]
    hedge(running.executor, Decimal("11.5"), Decimal("10.983"))
    running.executor.failing_orders = 1
    await engine.tick()  # type: ignore[attr-defined]
    (event,) = rebalance_events(events)
    assert not event.result.ok and event.result.error.code
    assert not engine.status().HasField("last_rebalance")  # type: ignore[attr-defined]
    assert running.vault.trades[event.result.request_id].status == K.TRADE_STATUS_FAILED
    await engine.tick()  # no cooldown started, but a backoff: not on the very next tick
    assert rebalance_events(events) == []
    running.clock.advance(60)  # the first backoff is a minute of market time
    await engine.tick()
    assert rebalance_events(events)[0].result.ok and perp(running) == Decimal("-11.483")


@settings(max_examples=100)
@given(succeeds=st.booleans(), previous_hours_ago=st.one_of(st.none(), st.integers(1, 48)))
def test_property_24_last_rebalance_moves_on_success_only(
    succeeds: bool, previous_hours_ago: int | None
) -> None:
    async def attempt() -> tuple[object, object]:
        harness = build_engine()
        engine = harness.engine
        await engine.start("paper", 0, "s")  # type: ignore[attr-defined]
        if previous_hours_ago is not None:
            engine.last_rebalance = START - _seconds(previous_hours_ago * 3600)  # type: ignore
        before = engine.last_rebalance  # type: ignore[attr-defined]
        hedge(harness.executor, Decimal(12), Decimal(10))
        harness.executor.failing_orders = 0 if succeeds else 1
        await engine.tick()  # type: ignore[attr-defined]
        after = engine.last_rebalance  # type: ignore[attr-defined]
        await engine.shutdown()  # type: ignore[attr-defined]
        return before, after

    before, after = asyncio.run(attempt())
    assert after == (START if succeeds else before)


async def test_a_negative_delta_reduces_the_short_with_a_reduce_only_buy(
    running: EngineHarness,
) -> None:
    hedge(running.executor, Decimal("10.517"), Decimal("11"))  # net -0.5
    await running.engine.tick()  # type: ignore[attr-defined]
    sent = running.executor.last_requests["OpenPosition"]
    assert sent.side == K.SIDE_LONG and sent.reduce_only  # type: ignore[attr-defined]
    assert sent.kind == K.TRADE_KIND_PERP_REBALANCE  # type: ignore[attr-defined]
    assert perp(running) == Decimal("-10.5")


async def test_rebalances_need_no_confirmation_however_large(running: EngineHarness) -> None:
    hedge(running.executor, Decimal(20), Decimal(10), collateral=Decimal(5000))  # ~10 SOL, $1500
    await running.engine.tick()  # type: ignore[attr-defined]
    assert perp(running) == Decimal("-19.983")


async def test_an_unhedged_wallet_and_small_drifts_are_left_alone() -> None:
    harness = build_engine(drift_tolerance_pct="0.01")
    engine = harness.engine
    assert (await engine.start("paper", 0, "s")).ok  # type: ignore[attr-defined]
    await engine.tick()  # type: ignore[attr-defined]  # 1 SOL of gas, no hedge
    plan, _ = await engine.check_rebalance(True, "")  # type: ignore[attr-defined]
    assert plan.skip_reason == "no_hedge"
    hedge(harness.executor, Decimal("11.003"), Decimal("10.983"))  # 0.003 SOL: below minimum
    await engine.tick()  # type: ignore[attr-defined]
    plan, _ = await engine.check_rebalance(True, "")  # type: ignore[attr-defined]
    assert plan.skip_reason == "below_min_size" and plan.signal
    assert harness.executor.order_calls == []
    await engine.shutdown()  # type: ignore[attr-defined]


async def test_check_rebalance_simulates_or_acts_through_the_trade_path(
    running: EngineHarness,
) -> None:
    engine = running.engine
    hedge(running.executor, Decimal("11.5"), Decimal("10.983"))
    plan, result = await engine.check_rebalance(True, "sim")  # type: ignore[attr-defined]
    assert plan.action == "expand_short" and plan.signal and result is None
    assert Decimal(plan.drift_pct) > 1 and plan.tolerance_pct == "1"
    assert running.executor.order_calls == []
    plan, result = await engine.check_rebalance(False, "manual-1")  # type: ignore[attr-defined]
    assert result is not None and result.ok and result.request_id == "manual-1"
    assert perp(running) == Decimal("-11.483")
    assert engine.last_rebalance == START  # type: ignore[attr-defined]


async def test_no_rebalance_while_trading_is_disabled(running: EngineHarness) -> None:
    hedge(running.executor, Decimal("11.5"), Decimal("10.983"))
    running.vault.sync_failures = 4
    await running.engine.tick()  # type: ignore[attr-defined]
    assert running.executor.order_calls == []
