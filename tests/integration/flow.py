"""Steps of the end-to-end flow, shared by the integration tests: gRPC calls only."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.executor.v1 import executor_pb2
from dne.feed.v1 import feed_pb2
from dne.vault.v1 import vault_pb2
from services.common.timeutil import to_timestamp
from tests.kit.system import Stubs


def request_id() -> str:
    return f"it-{uuid.uuid4().hex[:16]}"


async def pause_clock_at(stubs: Stubs, moment: datetime) -> None:
    await stubs.replay.SetClock(
        feed_pb2.SetClockRequest(now=to_timestamp(moment), paused=True, set_paused=True)
    )


async def advance_hours(stubs: Stubs, hours: float) -> None:
    await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=hours * 3600))


async def account(stubs: Stubs) -> common_pb2.AccountState:
    reply = await stubs.executor.GetAccountState(executor_pb2.GetAccountStateRequest(sub_account=0))
    return reply.state


def perp_size(state: common_pb2.AccountState, market: str = "SOL-PERP") -> Decimal:
    for position in state.positions:
        if position.market == market:
            sign = -1 if position.side == common_pb2.SIDE_SHORT else 1
            return sign * Decimal(position.size)
    return Decimal(0)


async def vault_key(stubs: Stubs) -> vault_pb2.VaultKey:
    status = await stubs.executor.GetVenueStatus(executor_pb2.GetVenueStatusRequest())
    return vault_pb2.VaultKey(account=status.account, sub_account=0)


async def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.1
) -> Any:
    """Polls a condition (plain or async) until it answers something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        await asyncio.sleep(interval)


class EventRecorder:
    """Collects engine events from StreamEvents in the background."""

    def __init__(self, stubs: Stubs) -> None:
        self.events: list[engine_pb2.EngineEvent] = []
        self._call = stubs.engine.StreamEvents(engine_pb2.StreamEventsRequest())
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for reply in self._call:
            self.events.append(reply.event)

    def of_type(self, event_type: int) -> list[engine_pb2.EngineEvent]:
        return [event for event in self.events if event.type == event_type]

    def rebalances(self, ok: bool = True) -> list[engine_pb2.RebalanceEvent]:
        return [
            event.rebalance
            for event in self.of_type(engine_pb2.EVENT_TYPE_REBALANCE)
            if event.rebalance.HasField("result") and event.rebalance.result.ok == ok
        ]

    async def close(self) -> None:
        self._call.cancel()
        self._task.cancel()
