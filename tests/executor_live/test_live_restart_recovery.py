"""An order left PENDING by an executor that stopped is resolved by the next one on its own:
rechecked every few seconds until it is final, without the same id being asked again."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.drift.driver import DriftDriver, DriverTiming
from tests.executor_live.test_live_failures import wait_until
from tests.kit.executor_live_builders import LiveRig

RECHECK = DriverTiming(recheck_every=0.05)
# Long enough for a confirmed order on a busy machine, far shorter than the 30 s confirmation
# wait of one that never confirms.
ANSWER_WITHIN = DriverTiming(answer_within=3.0)


def real_time_driver(rig: LiveRig, state_path: Path,
                     timing: DriverTiming = RECHECK) -> DriftDriver:
    return rig.driver(state_path, timing=timing, sleep=asyncio.sleep, monotonic=time.monotonic)


async def leave_pending(rig: LiveRig, state_path: Path, order: OpenOrder) -> str:
    """An executor sends the order, answers PENDING and stops before it is confirmed."""
    first = real_time_driver(rig, state_path, ANSWER_WITHIN)
    await first.start()
    try:
        assert (await first.deposit("dep", 0, Decimal(1000))).status is OrderStatus.FILLED
        rig.venue.control.set(outcome="never_confirm")
        pending = await first.open_position(order)
        assert pending.status is OrderStatus.PENDING and pending.tx_signature
    finally:
        await first.close()
    rig.venue.control.set(outcome="confirm")
    return pending.tx_signature


async def status_of(driver: DriftDriver, client_order_id: str) -> OrderStatus | None:
    result = await driver.get_order(client_order_id)
    return result.status if result else None


async def test_an_order_pending_at_restart_that_lands_late_ends_filled_with_its_fill(
    rig: LiveRig, state_path: Path
) -> None:
    order = OpenOrder("short", 0, "SOL-PERP", Side.SHORT, Decimal("1.5"))
    signature = await leave_pending(rig, state_path, order)
    restarted = real_time_driver(rig, state_path)
    await restarted.start()
    try:
        looks = rig.venue.calls["getSignatureStatuses"]
        await wait_until(lambda: rig.venue.calls["getSignatureStatuses"] >= looks + 1)
        assert await status_of(restarted, "short") is OrderStatus.PENDING
        assert rig.venue.land_held(signature) == [signature]  # the confirmation comes late
        for _ in range(250):
            if await status_of(restarted, "short") is OrderStatus.FILLED:
                break
            await asyncio.sleep(0.02)
        result = await restarted.get_order("short")
        state = await restarted.account_state(0)
    finally:
        await restarted.close()
    assert result is not None and result.status is OrderStatus.FILLED, result
    assert (result.side, result.filled_size) == (Side.SHORT, Decimal("1.5"))
    assert result.fill_price and result.tx_signature == signature
    (position,) = state.positions
    assert (position.side, position.size) == (Side.SHORT, Decimal("1.5"))
    assert len(rig.venue.journal.drift_instructions("place_perp_order")) == 1


async def test_an_order_pending_at_restart_that_never_lands_fails_once_its_blockhash_expires(
    rig: LiveRig, state_path: Path
) -> None:
    await leave_pending(rig, state_path, OpenOrder("short", 0, "SOL-PERP", Side.SHORT,
                                                   Decimal(1)))
    restarted = real_time_driver(rig, state_path)
    await restarted.start()
    try:
        looks = rig.venue.calls["getSignatureStatuses"]
        await wait_until(lambda: rig.venue.calls["getSignatureStatuses"] >= looks + 1)
        assert await status_of(restarted, "short") is OrderStatus.PENDING
        rig.chain_clock.advance(70)  # past the blockhash's 150 blocks: it can never land
        for _ in range(250):
            if await status_of(restarted, "short") is OrderStatus.FAILED:
                break
            await asyncio.sleep(0.02)
        result = await restarted.get_order("short")
        state = await restarted.account_state(0)
    finally:
        await restarted.close()
    assert result is not None and result.status is OrderStatus.FAILED, result
    assert "never landed" in result.error_message
    assert state.positions == []


async def test_an_order_left_unknown_is_resolved_when_it_is_asked_for(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(outcome="never_confirm")
    unknown = await driver.deposit("dep", 0, Decimal(100))
    assert unknown.status is OrderStatus.UNKNOWN
    assert await status_of(driver, "dep") is OrderStatus.UNKNOWN  # still nowhere on chain
    assert rig.venue.land_held(unknown.tx_signature) == [unknown.tx_signature]
    landed = await driver.get_order("dep")
    assert landed is not None and landed.status is OrderStatus.FILLED, landed
    assert landed.filled_size == Decimal(100) and landed.tx_signature == unknown.tx_signature
    assert (await driver.account_state(0)).wallet_usdc == Decimal(9_900)
