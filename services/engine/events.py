"""One event stream fanned out to any number of subscribers, each with a bounded queue.

A subscriber whose queue is full is dropped (its stream ends): a slow reader never delays the
engine or the other readers."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from dne.engine.v1 import engine_pb2
from services.common.timeutil import to_timestamp

log = logging.getLogger(__name__)

_PAYLOAD_FIELD = {
    engine_pb2.EVENT_TYPE_FUNDING_UPDATE: "funding_update",
    engine_pb2.EVENT_TYPE_COMMAND_RESULT: "command_result",
    engine_pb2.EVENT_TYPE_HEALTH_ALERT: "health_alert",
    engine_pb2.EVENT_TYPE_ENGINE_STATUS: "engine_status",
    engine_pb2.EVENT_TYPE_VAULT_SYNC_ERROR: "vault_sync_error",
    engine_pb2.EVENT_TYPE_REBALANCE: "rebalance",
}
KNOWN_TYPES = frozenset(_PAYLOAD_FIELD)


def make_event(event_type: int, payload: object) -> engine_pb2.EngineEvent:
    event = engine_pb2.EngineEvent(
        event_id=uuid.uuid4().hex,
        type=event_type,  # type: ignore[arg-type]
        emitted_at=to_timestamp(datetime.now(UTC)),
    )
    getattr(event, _PAYLOAD_FIELD[event_type]).CopyFrom(payload)
    return event


class Subscription:
    def __init__(self, types: frozenset[int], maxsize: int) -> None:
        self.types = types
        self.queue: asyncio.Queue[engine_pb2.EngineEvent | None] = asyncio.Queue(maxsize)
        self.dropped = False

    def wants(self, event: engine_pb2.EngineEvent) -> bool:
        return not self.types or event.type in self.types

    def end(self, *, discard: bool) -> None:
        """Ends the stream after what is buffered, or at once (discard) for a dropped reader."""
        if discard:
            while not self.queue.empty():
                self.queue.get_nowait()
        elif self.queue.full():
            self.queue.get_nowait()  # make room for the end marker: shutting down anyway
        self.queue.put_nowait(None)

    async def events(self) -> AsyncIterator[engine_pb2.EngineEvent]:
        while (event := await self.queue.get()) is not None:
            yield event


class EventBus:
    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, types: Iterable[int] = ()) -> Subscription:
        subscription = Subscription(frozenset(types), self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self, event: engine_pb2.EngineEvent) -> None:
        for subscription in list(self._subscribers):
            if not subscription.wants(event):
                continue
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a slow event subscriber",
                            extra={"queue_size": self._queue_size})
                subscription.dropped = True
                self._subscribers.discard(subscription)
                subscription.end(discard=True)

    def emit(self, event_type: int, payload: object) -> engine_pb2.EngineEvent:
        event = make_event(event_type, payload)
        self.publish(event)
        return event

    def close(self) -> None:
        for subscription in list(self._subscribers):
            subscription.end(discard=False)
        self._subscribers.clear()
