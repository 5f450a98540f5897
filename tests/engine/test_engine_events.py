"""The event bus: one stream fanned out; a slow subscriber is dropped without delaying others."""

from __future__ import annotations

import asyncio

from dne.engine.v1 import engine_pb2 as E
from services.engine.events import EventBus


def status_event(bus: EventBus) -> E.EngineEvent:
    return bus.emit(E.EVENT_TYPE_ENGINE_STATUS, E.EngineStatus(running=True))


async def test_every_subscriber_receives_every_event_with_an_id_and_a_type() -> None:
    bus = EventBus(queue_size=10)
    first, second = bus.subscribe(), bus.subscribe()
    sent = [status_event(bus) for _ in range(3)]
    bus.close()
    for subscription in (first, second):
        received = [event async for event in subscription.events()]
        assert [e.event_id for e in received] == [e.event_id for e in sent]
    assert len({e.event_id for e in sent}) == 3
    assert all(e.type == E.EVENT_TYPE_ENGINE_STATUS and e.engine_status.running for e in sent)
    assert all(e.emitted_at.seconds > 0 for e in sent)


async def test_a_subscriber_sees_only_the_types_it_asked_for() -> None:
    bus = EventBus()
    alerts = bus.subscribe([E.EVENT_TYPE_HEALTH_ALERT])
    status_event(bus)
    bus.emit(E.EVENT_TYPE_HEALTH_ALERT, E.HealthAlert(level="WARNING", health="40"))
    bus.close()
    received = [event async for event in alerts.events()]
    assert [e.type for e in received] == [E.EVENT_TYPE_HEALTH_ALERT]


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_receiving() -> None:
    bus = EventBus(queue_size=2)
    slow = bus.subscribe()
    fast = bus.subscribe()
    fast_received: list[E.EngineEvent] = []

    async def read_fast() -> None:
        async for event in fast.events():
            fast_received.append(event)

    reader = asyncio.create_task(read_fast())
    for _ in range(5):
        status_event(bus)  # publish never awaits a reader
        await asyncio.sleep(0)
    assert slow.dropped and not fast.dropped
    assert bus.subscriber_count == 1
    assert [event async for event in slow.events()] == []  # its stream simply ends
    bus.close()
    await asyncio.wait_for(reader, 1)
    assert len(fast_received) == 5
