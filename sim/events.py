"""The engine's event stream as the gateway would have seen it, kept across engine restarts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dne.engine.v1 import engine_pb2
from services.engine.events import EventBus

E = engine_pb2


@dataclass(frozen=True)
class Seen:
    moment: int
    event: engine_pb2.EngineEvent


class RecordingBus(EventBus):
    """An EventBus that also appends every event, stamped with the world's moment."""

    def __init__(self, record: list[Seen], moment: Callable[[], int]) -> None:
        super().__init__()
        self._record = record
        self._moment = moment

    def publish(self, event: engine_pb2.EngineEvent) -> None:
        self._record.append(Seen(self._moment(), event))
        super().publish(event)


def alerts(record: list[Seen], level: str, since: int = 0) -> list[str]:
    """Messages of HealthAlerts of `level` emitted at or after moment `since`."""
    return [seen.event.health_alert.message for seen in record
            if seen.moment >= since and seen.event.type == E.EVENT_TYPE_HEALTH_ALERT
            and seen.event.health_alert.level == level]
