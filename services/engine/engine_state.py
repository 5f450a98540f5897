"""What the engine must remember across a restart because it decides trades: the rebalancer's
cooldown and backoff, and the hedged entries not yet at their end. One JSON file, replaced
atomically on every change (ENGINE_STATE_PATH; empty keeps it in memory only)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically

log = logging.getLogger(__name__)
STATE_VERSION = 1


@dataclass
class OpenEntry:
    """A hedged entry written down before its first leg leaves: enough to drive it to its end
    (the short sent, or the spot sold back) after a restart or a pending leg."""

    request_id: str
    market: str
    size: str                  # the short, base units
    spot_size: str             # the spot SOL its spot leg buys
    confirmed: bool = True
    perp_refused: bool = False  # the gates refused the short after the spot was bought


@dataclass
class EngineState:
    last_rebalance: datetime | None = None
    rebalance_failures: int = 0
    rebalance_retry_at: datetime | None = None
    open_entries: dict[str, OpenEntry] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "last_rebalance": _iso(self.last_rebalance),
            "rebalance_failures": self.rebalance_failures,
            "rebalance_retry_at": _iso(self.rebalance_retry_at),
            "open_entries": {rid: asdict(entry) for rid, entry in self.open_entries.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineState:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"engine state version {data.get('version')!r} is not "
                             f"{STATE_VERSION}")
        return cls(
            last_rebalance=_parse(data.get("last_rebalance")),
            rebalance_failures=int(data.get("rebalance_failures", 0)),
            rebalance_retry_at=_parse(data.get("rebalance_retry_at")),
            open_entries={rid: OpenEntry(**raw)
                          for rid, raw in (data.get("open_entries") or {}).items()},
        )


class EngineStateFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None

    def load(self) -> EngineState:
        if self.path is None or not self.path.exists():
            return EngineState()
        state = EngineState.from_json(json.loads(self.path.read_text()))
        log.info("engine state loaded", extra={
            "path": str(self.path), "open_entries": len(state.open_entries),
            "last_rebalance": _iso(state.last_rebalance)})
        return state

    def save(self, state: EngineState) -> None:
        if self.path is not None:
            write_atomically(self.path, json.dumps(state.to_json(), indent=1, sort_keys=True))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
