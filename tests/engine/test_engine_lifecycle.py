"""Start, stop, status, the tick's FUNDING_UPDATE and health alerts (properties 5, 6, 31, 38)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from dne.engine.v1 import engine_pb2 as E
from services.engine import commands
from tests.kit.engine_fakes import START, EngineHarness, build_engine, hedge


def events_of(harness: EngineHarness, event_type: int):  # type: ignore[no-untyped-def]
    subscription = harness.engine.bus.subscribe([event_type])  # type: ignore[attr-defined]
    return subscription


def drain(subscription) -> list[E.EngineEvent]:  # type: ignore[no-untyped-def]
    events = []
    while not subscription.queue.empty():
        item = subscription.queue.get_nowait()
        if item is not None:
            events.append(item)
    return events


@settings(max_examples=100)
@given(mode=st.one_of(st.sampled_from(["paper", "live", "PAPER", " paper", "Live", "", "replay"]),
                      st.text(max_size=12)))
def test_property_38_start_accepts_a_mode_iff_it_is_paper_or_live(mode: str) -> None:
    async def attempt() -> E.CommandResult:
        harness = build_engine()
        try:
            return await harness.engine.start(mode, 0, "start")  # type: ignore[attr-defined]
        finally:
            await harness.engine.shutdown()  # type: ignore[attr-defined]

    result = asyncio.run(attempt())
    if mode == "paper":
        assert result.ok
    elif mode == "live":
        # A valid mode this executor (the paper venue) cannot serve: refused for that reason.
        assert result.error.code == "LIVE_MODE_UNAVAILABLE" and "live" in result.error.message
    else:
        assert not result.ok and result.error.code == "INVALID_MODE" and result.error.message


async def test_start_in_paper_opens_the_vault_and_syncs_it_from_the_venue(
    harness: EngineHarness,
) -> None:
    harness.executor.sub(0).quote = Decimal(1234)
    result = await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
    assert result.ok, result.error
    status = harness.engine.status()  # type: ignore[attr-defined]
    assert status.running and status.mode == "paper" and status.account == "paper-wallet"
    assert status.trading_enabled and status.venue == "paper" and status.max_leverage == "10"
    # Property 31: the vault's balance is the sub-account's collateral.
    vault_status = harness.vault.statuses[("paper-wallet", 0)]
    assert Decimal(vault_status.balance) == Decimal(1234)
    assert harness.engine.last_update is not None  # type: ignore[attr-defined]


async def test_paper_mode_refuses_an_executor_that_is_not_the_paper_venue(
    harness: EngineHarness,
) -> None:
    harness.executor.venue = "mainnet"
    result = await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
    assert not result.ok and result.error.code == "FAILED_PRECONDITION"
    assert "paper" in result.error.message
    assert not harness.engine.running  # type: ignore[attr-defined]


async def test_start_refuses_without_a_vault_feed_or_executor(harness: EngineHarness) -> None:
    engine = harness.engine
    harness.vault.available = False
    assert (await engine.start("paper", 0, "a")).error.code == "VAULT_UNAVAILABLE"  # type: ignore
    harness.vault.available = True
    harness.feed.available = False
    assert (await engine.start("paper", 0, "b")).error.code == "FEED_UNAVAILABLE"  # type: ignore
    harness.feed.available = True
    harness.executor.available = False
    assert (await engine.start("paper", 0, "c")).error.code == "VENUE_UNAVAILABLE"  # type: ignore
    assert not engine.running  # type: ignore[attr-defined]


async def test_starting_twice_is_refused_and_stop_ends_the_engine(running: EngineHarness) -> None:
    engine = running.engine
    statuses = events_of(running, E.EVENT_TYPE_ENGINE_STATUS)
    again = await engine.start("paper", 0, "again")  # type: ignore[attr-defined]
    assert again.error.code == "ENGINE_ALREADY_RUNNING"
    stopped = await engine.stop("stop")  # type: ignore[attr-defined]
    assert stopped.ok and not engine.status().running  # type: ignore[attr-defined]
    assert [e.engine_status.running for e in drain(statuses)] == [False]
    assert (await engine.stop("stop-2")).error.code == "ENGINE_NOT_RUNNING"  # type: ignore
    refused = await engine.trade(  # type: ignore[attr-defined]
        commands.deposit(E.DepositRequest(request_id="d", amount="10")))
    assert refused.error.code == "ENGINE_NOT_RUNNING" and refused.error.message
    assert running.executor.order_calls == []


async def test_a_stop_ends_the_session_whole_and_a_start_builds_a_new_one(
    running: EngineHarness,
) -> None:
    engine = running.engine
    before = engine.status()  # type: ignore[attr-defined]
    assert (before.venue, before.account) == ("paper", "paper-wallet")
    assert before.HasField("started_at")
    # A quote of this session: the new session after a stop and start never honours it.
    quote = (await engine.trade(commands.swap(E.SwapRequest(  # type: ignore[attr-defined]
        request_id="ask", direction="buy", size="1")))).confirmation
    assert quote.confirmation_id
    assert (await engine.stop("stop")).ok  # type: ignore[attr-defined]
    stopped = engine.status()  # type: ignore[attr-defined]
    assert (stopped.mode, stopped.venue, stopped.account) == ("", "", "")
    assert not stopped.HasField("started_at")
    assert (await engine.start("paper", 0, "again")).ok  # type: ignore[attr-defined]
    late = await engine.trade(commands.swap(E.SwapRequest(  # type: ignore[attr-defined]
        request_id="late", direction="buy", size="1", confirmation_id=quote.confirmation_id)))
    assert late.error.code == "CONFIRMATION_EXPIRED" and "unknown" in late.error.message
    assert "late" not in running.vault.trades


async def test_the_tick_loop_publishes_funding_updates_every_interval_until_stopped() -> None:
    harness = build_engine(tick_interval_sec=0.02)
    updates = events_of(harness, E.EVENT_TYPE_FUNDING_UPDATE)
    assert (await harness.engine.start("paper", 0, "s")).ok  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)
    await harness.engine.stop("x")  # type: ignore[attr-defined]
    count = len(drain(updates))
    assert count >= 3
    await asyncio.sleep(0.1)
    assert drain(updates) == []  # no tick after stop


async def test_funding_update_carries_every_field_and_the_vaults_realized_funding(
    running: EngineHarness,
) -> None:
    hedge(running.executor, Decimal(11), Decimal("10.983"))
    paid = running.executor.pay_funding("SOL-PERP", Decimal("0.0001"), START - timedelta(hours=1))
    updates = events_of(running, E.EVENT_TYPE_FUNDING_UPDATE)
    await running.engine.tick()  # type: ignore[attr-defined]
    update = drain(updates)[-1].funding_update
    assert paid > 0  # a short receives a positive rate
    assert Decimal(update.funding_received) == paid
    assert update.spot_sol == "11" and update.perp_sol == "-10.983"
    assert Decimal(update.net_delta) == 0 and Decimal(update.drift_pct) == 0
    assert update.sol_price == "150" and update.mode == "paper" and update.trading_enabled
    for field in ("health", "total_collateral", "equity", "maintenance_margin", "leverage",
                  "free_collateral", "wallet_usdc"):
        assert getattr(update, field), field
    assert [p.market for p in update.positions] == ["SOL-PERP"]
    assert update.timestamp.seconds == int(START.timestamp())


async def test_low_health_raises_alerts_on_change_and_not_on_every_tick(
    running: EngineHarness,
) -> None:
    engine = running.engine
    alerts = events_of(running, E.EVENT_TYPE_HEALTH_ALERT)
    # 2000 collateral, 100 SOL short at 150: maintenance 750 -> health 62.5 %: fine.
    hedge(running.executor, Decimal("100.017"), Decimal(100))  # neutral: no rebalance
    await engine.tick()  # type: ignore[attr-defined]
    assert drain(alerts) == []
    running.feed.prices["SOL-PERP"] = Decimal(161)  # short loses 1100: C=900, M=805
    await engine.tick()  # type: ignore[attr-defined]
    (warning,) = drain(alerts)
    assert warning.health_alert.level == "CRITICAL" and Decimal(warning.health_alert.health) < 20
    await engine.tick()  # type: ignore[attr-defined]
    assert drain(alerts) == []  # the same level inside 60 s of wall time
    running.wall[0] += 61
    await engine.tick()  # type: ignore[attr-defined]
    assert len(drain(alerts)) == 1


async def test_live_mode_starts_on_a_live_venue_with_the_live_leverage_limit(
    harness: EngineHarness,
) -> None:
    harness.executor.venue = "drift"
    result = await harness.engine.start("live", 0, "s")  # type: ignore[attr-defined]
    assert result.ok, result.error
    status = harness.engine.status()  # type: ignore[attr-defined]
    assert status.mode == "live" and status.venue == "drift" and status.max_leverage == "5"


async def test_paper_mode_is_refused_on_a_live_venue(harness: EngineHarness) -> None:
    harness.executor.venue = "drift"
    result = await harness.engine.start("paper", 0, "s")  # type: ignore[attr-defined]
    assert not result.ok and result.error.code == "FAILED_PRECONDITION"
    assert "paper venue" in result.error.message


async def test_property_31_start_up_reports_venue_positions_the_vault_did_not_know(
    harness: EngineHarness,
) -> None:
    harness.executor.venue = "drift"
    harness.executor.sub(0).quote = Decimal(2000)
    harness.executor.set_position("SOL-PERP", Decimal(-2))
    alerts = harness.engine.bus.subscribe([E.EVENT_TYPE_HEALTH_ALERT])  # type: ignore
    result = await harness.engine.start("live", 0, "s")  # type: ignore[attr-defined]
    assert result.ok, result.error
    assert "SOL-PERP short 2" in result.message
    alert = alerts.queue.get_nowait()
    assert alert.health_alert.level == "WARNING"
    assert "SOL-PERP short 2" in alert.health_alert.message
    # The vault now holds the venue's numbers (property 31) and the position.
    status = harness.vault.statuses[("paper-wallet", 0)]
    assert [p.market for p in status.positions] == ["SOL-PERP"]


async def test_a_restart_with_positions_the_vault_knows_reports_nothing(
    harness: EngineHarness,
) -> None:
    harness.executor.sub(0).quote = Decimal(2000)
    harness.executor.set_position("SOL-PERP", Decimal(-2))
    assert (await harness.engine.start("paper", 0, "s1")).ok  # type: ignore[attr-defined]
    await harness.engine.shutdown()  # type: ignore[attr-defined]
    again = await harness.engine.start("paper", 0, "s2")  # type: ignore[attr-defined]
    assert again.ok and "did not know" not in again.message
