"""The replay's market clock and price scenarios, kept across a restart of the feed.

Without it a feed killed and restarted would send the market back to its first recorded day:
funding hours would be paid twice and prices would jump. The file holds the market time at a
wall-clock instant, so a restart resumes where the clock would have been had the feed stayed up
(FEED_STATE_PATH; empty keeps the replay in memory only, as tests that steer it expect)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically

log = logging.getLogger(__name__)
STATE_VERSION = 1
# market -> [(from, price or None for "recorded again")], as PriceBook keeps it.
Timelines = dict[str, list[tuple[datetime, Decimal | None]]]


@dataclass(frozen=True)
class SavedReplay:
    market_now: datetime
    wall_time: float  # seconds since the epoch when the market stood at market_now
    speed: float
    paused: bool
    scenarios: Timelines = field(default_factory=dict)

    def market_time_at(self, wall_time: float) -> datetime:
        """Where the clock stands at `wall_time`: moved on at its speed unless paused."""
        if self.paused:
            return self.market_now
        elapsed = max(wall_time - self.wall_time, 0.0) * self.speed
        return self.market_now + timedelta(seconds=elapsed)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "market_now": self.market_now.isoformat(),
            "wall_time": self.wall_time,
            "speed": self.speed,
            "paused": self.paused,
            "scenarios": {
                market: [[at.isoformat(), None if price is None else str(price)]
                         for at, price in timeline]
                for market, timeline in self.scenarios.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedReplay:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"replay state version {data.get('version')!r} is not "
                             f"{STATE_VERSION}")
        return cls(
            market_now=datetime.fromisoformat(data["market_now"]),
            wall_time=float(data["wall_time"]),
            speed=float(data["speed"]),
            paused=bool(data["paused"]),
            scenarios={
                market: [(datetime.fromisoformat(at), None if price is None else Decimal(price))
                         for at, price in timeline]
                for market, timeline in (data.get("scenarios") or {}).items()
            },
        )


class ReplayStateFile:
    def __init__(self, path: str | Path, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if str(path) else None
        self.wall_clock = wall_clock

    def load(self) -> SavedReplay | None:
        if self.path is None or not self.path.exists():
            return None
        return SavedReplay.from_json(json.loads(self.path.read_text()))

    def save(self, market_now: datetime, speed: float, paused: bool,
             scenarios: Timelines) -> None:
        if self.path is None:
            return
        saved = SavedReplay(market_now, self.wall_clock(), speed, paused, scenarios)
        try:
            write_atomically(self.path, json.dumps(saved.to_json(), indent=1, sort_keys=True))
        except OSError:
            # The replay goes on; a restart would resume from the last state written.
            log.exception("replay state not saved", extra={"path": str(self.path)})
