"""Failures on the live venue: simulation, confirmation, dropped links, halts and latency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from services.common.errors import DomainError, ErrorCode
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.drift.driver import DriftDriver
from tests.kit.executor_live_builders import LiveRig, set_genesis

ANCHOR_LOGS = [
    "Program dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH invoke [1]",
    "Program log: AnchorError occurred. Error Code: InsufficientCollateral.",
    "Program dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH failed: custom program error: 0x1773",
]


async def wait_until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_property_10_a_failed_simulation_rejects_without_sending_or_retrying(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(outcome="fail_simulation", logs=ANCHOR_LOGS,
                          error={"InstructionError": [1, {"Custom": 6003}]})
    result = await driver.deposit("dep", 0, Decimal(100))
    assert result.status is OrderStatus.REJECTED
    assert result.error_code == ErrorCode.VENUE_REJECTED
    assert result.error_message.startswith("transaction simulation failed")
    assert "InsufficientCollateral" in result.error_message
    assert "6003" in result.error_details["simulation_error"]
    assert rig.venue.calls["simulateTransaction"] == 1
    assert rig.venue.calls["sendTransaction"] == 0
    # Asked again: the refusal is the answer, nothing is simulated again.
    again = await driver.deposit("dep", 0, Decimal(100))
    assert again.replayed and again.status is OrderStatus.REJECTED
    assert rig.venue.calls["simulateTransaction"] == 1


async def test_properties_41_42_an_unconfirmed_order_is_unknown_after_30_s_then_60_s_of_polls(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(outcome="never_confirm")
    started = rig.time.now
    result = await driver.deposit("dep", 0, Decimal(100))
    assert result.status is OrderStatus.UNKNOWN
    (sent,) = rig.venue.journal.sent()
    signature = sent.transaction.signature
    assert result.tx_signature == signature
    assert result.error_details["tx_signature"] == signature
    assert signature in result.error_message
    waited = rig.time.now - started
    assert 90 <= waited <= 96
    assert rig.time.slept.count(5.0) >= 11  # every 5 s after the first 30 s

    # The same id while its blockhash can still land: answered, never signed again.
    again = await driver.deposit("dep", 0, Decimal(100))
    assert again.replayed and again.status is OrderStatus.UNKNOWN
    assert again.tx_signature == signature
    assert len(rig.venue.journal.sent()) == 1
    assert (await driver.get_order("dep")).status is OrderStatus.UNKNOWN

    # Once the blockhash has expired unlanded, nothing traded: FAILED, and final (the engine
    # records it, so the same id never trades later); a new attempt takes a new id.
    rig.chain_clock.advance(70)
    rig.venue.control.set(outcome="confirm")
    retried = await driver.deposit("dep", 0, Decimal(100))
    assert retried.status is OrderStatus.FAILED and retried.replayed
    assert "never landed" in retried.error_message
    assert len(rig.venue.journal.sent()) == 1
    fresh = await driver.deposit("dep-2", 0, Decimal(100))
    assert fresh.status is OrderStatus.FILLED, fresh.error_message
    assert len(rig.venue.journal.sent()) == 2


async def test_an_order_answers_pending_when_confirmation_outlasts_the_answer_window(
    rig: LiveRig, state_path
) -> None:
    from services.executor.drift.driver import DriverTiming

    slow = rig.driver(state_path, timing=DriverTiming(answer_within=0.3), sleep=asyncio.sleep,
                      monotonic=__import__("time").monotonic)
    await slow.start()
    try:
        rig.venue.control.set(outcome="never_confirm")
        pending = await slow.deposit("dep", 0, Decimal(100))
        assert pending.status is OrderStatus.PENDING
        assert pending.tx_signature
        other = await slow.deposit("dep-2", 0, Decimal(100))
        assert other.error_code == ErrorCode.ORDER_PENDING
        assert pending.tx_signature in other.error_message
        rig.venue.control.set(outcome="confirm")
    finally:
        await slow.close()


async def test_properties_43_45_a_dropped_link_reconnects_every_10_s_and_resyncs_first(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(drop="*")
    with pytest.raises(DomainError) as down:
        await driver.account_state(0)
    assert down.value.code == ErrorCode.VENUE_UNAVAILABLE
    assert rig.time.slept[:3] == [1.0, 2.0, 4.0]  # the read's backoff
    status = await driver.status()
    assert not status.connected and status.trading_halted
    assert "reconnecting every 10 s" in status.halt_reason
    refused = await driver.deposit("dep", 0, Decimal(10))
    assert refused.status is OrderStatus.FAILED
    assert refused.error_code == ErrorCode.VENUE_UNAVAILABLE
    await wait_until(lambda: rig.time.slept.count(10.0) >= 2)
    genesis_reads = rig.venue.calls["getGenesisHash"]
    rig.venue.control.set(drop=[])
    await wait_until(lambda: driver._link.connected)  # type: ignore[union-attr]
    assert rig.venue.calls["getGenesisHash"] > genesis_reads  # re-synced before trading
    status = await driver.status()
    assert status.connected and not status.trading_halted
    assert (await driver.deposit("dep", 0, Decimal(10))).replayed  # its answer is final
    assert (await driver.deposit("dep-2", 0, Decimal(10))).status is OrderStatus.FILLED


async def test_property_29_rpc_latency_and_oracle_staleness_are_reported(
    rig: LiveRig, driver: DriftDriver
) -> None:
    quick = await driver.status()
    assert quick.latency_ms < 300
    rig.venue.control.set(latency_ms=350)
    slow = await driver.status()
    assert slow.latency_ms >= 350
    rig.venue.control.set(latency_ms=0)
    await rig.post("/_control/oracle", {"market_index": 0, "price": "85", "stale_slots": 500})
    stale = await driver.status()
    assert stale.latency_ms >= 500 * 400


async def test_a_paused_program_is_refused_and_the_status_says_so(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(500))
    sent_before = len(rig.venue.journal.sent())
    await rig.post("/_control/exchange", {"paused": True})
    status = await driver.status()
    assert status.trading_halted
    assert "venue program is paused" in status.halt_reason
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.LONG, Decimal(1)))
    assert opened.error_code == ErrorCode.VENUE_HALTED
    assert "venue program is paused" in opened.error_message
    deposit = await driver.deposit("dep-2", 0, Decimal(1))
    assert deposit.error_code == ErrorCode.VENUE_HALTED
    assert len(rig.venue.journal.sent()) == sent_before


async def test_an_inactive_market_is_refused_with_its_status(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(500))
    await rig.post("/_control/perp_market", {"market_index": 0, "status": "ReduceOnly"})
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.LONG, Decimal(1)))
    assert opened.error_code == ErrorCode.MARKET_NOT_TRADABLE
    assert "SOL-PERP (perp market 0) is not active: its status is ReduceOnly" in \
        opened.error_message
    assert rig.venue.journal.drift_instructions("place_perp_order") == []


async def test_mainnet_without_live_trading_confirmed_halts_trading(
    rig: LiveRig, state_path
) -> None:
    set_genesis(rig.venue, rig.profile.genesis_hash)
    unconfirmed = rig.driver(state_path)
    await unconfirmed.start()
    try:
        status = await unconfirmed.status()
        assert status.connected and status.trading_halted
        assert "LIVE_TRADING_CONFIRMED=true is not set" in status.halt_reason
        refused = await unconfirmed.deposit("dep", 0, Decimal(10))
        assert refused.error_code == ErrorCode.TRADING_DISABLED
        assert (await unconfirmed.account_state(0)).wallet_usdc == Decimal(10_000)
    finally:
        await unconfirmed.close()
    confirmed = rig.driver(None, trading_confirmed=True)
    await confirmed.start()
    try:
        assert not (await confirmed.status()).trading_halted
        assert (await confirmed.deposit("dep-ok", 0, Decimal(10))).status is OrderStatus.FILLED
    finally:
        await confirmed.close()
    assert len(rig.venue.journal.sent()) == 1
