"""The one-in-flight rule on the live venue: the same id asked again while its first call is
still at work is PENDING (it may yet trade), and only a different id is refused."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from services.common.errors import ErrorCode
from services.common.venue import OrderStatus
from services.executor.drift.driver import DriverTiming
from tests.executor_live.test_live_failures import wait_until
from tests.kit.executor_live_builders import LiveRig


async def test_the_same_id_asked_again_while_its_first_call_is_prepared_is_pending(
    rig: LiveRig, state_path
) -> None:
    slow = rig.driver(state_path, timing=DriverTiming(answer_within=0.3), sleep=asyncio.sleep,
                      monotonic=time.monotonic)
    await slow.start()
    try:
        # Every RPC answer takes 250 ms: the first call is still reading the account (nothing
        # signed, nothing in the order log) when the same id arrives again.
        rig.venue.control.set(latency_ms=250)
        first = asyncio.create_task(slow.deposit("dep", 0, Decimal(100)))
        await asyncio.sleep(0.1)
        again = await slow.deposit("dep", 0, Decimal(100))
        other = await slow.deposit("dep-2", 0, Decimal(100))
        assert again.status is OrderStatus.PENDING, again.error_message
        assert again.error_code == ErrorCode.ORDER_PENDING
        assert other.status is OrderStatus.REJECTED
        assert other.error_code == ErrorCode.ORDER_PENDING
        assert (await first).status is OrderStatus.PENDING
        rig.venue.control.set(latency_ms=0)
        await wait_until(lambda: slow._orders.get("dep") is not None  # type: ignore[union-attr]
                         and slow._orders.get("dep").result.status is OrderStatus.FILLED)
        done = await slow.deposit("dep", 0, Decimal(100))
        assert done.status is OrderStatus.FILLED and done.replayed
    finally:
        await slow.close()
    assert len(rig.venue.journal.sent()) == 1
