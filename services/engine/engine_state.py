"""What the engine must remember across a restart because it decides trades: whether it was
started (mode, sub-account) so it resumes by itself, the rebalancer's cooldown and backoff, the
hedged entries not yet at their end, and the venue balances it last saw (what a resume compares).
One JSON file, replaced atomically on every change (ENGINE_STATE_PATH; empty: memory only)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically

log = logging.getLogger(__name__)
STATE_VERSION = 2


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
class Balances:
    """The venue's balances at the engine's last vault sync (decimal strings): a resume compares
    them with the venue's, so money that moved while the engine was away is reported."""

    quote_balance: str
    wallet_usdc: str
    wallet_sol: str
    collateral: str
    as_of: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": _iso(self.as_of)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Balances:
        return cls(**{**raw, "as_of": _parse(raw.get("as_of"))})


@dataclass
class EngineState:
    # Running or not as the last StartEngine/StopEngine/critical stop left it: a restarted
    # process resumes when True. A SIGTERM keeps it (the system stops, not the engine).
    started: bool = False
    mode: str = ""
    sub_account: int = 0
    started_at: datetime | None = None   # wall clock of the StartEngine (or resume)
    stopped_reason: str = ""             # why a critical stop or a refused resume stopped it
    last_rebalance: datetime | None = None
    rebalance_failures: int = 0
    rebalance_retry_at: datetime | None = None
    open_entries: dict[str, OpenEntry] = field(default_factory=dict)
    balances: Balances | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "started": self.started,
            "mode": self.mode,
            "sub_account": self.sub_account,
            "started_at": _iso(self.started_at),
            "stopped_reason": self.stopped_reason,
            "last_rebalance": _iso(self.last_rebalance),
            "rebalance_failures": self.rebalance_failures,
            "rebalance_retry_at": _iso(self.rebalance_retry_at),
            "open_entries": {rid: asdict(entry) for rid, entry in self.open_entries.items()},
            "balances": self.balances.to_json() if self.balances is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EngineState:
        data = migrate(data)
        balances = data.get("balances")
        return cls(
            started=bool(data.get("started", False)),
            mode=str(data.get("mode", "")),
            sub_account=int(data.get("sub_account", 0)),
            started_at=_parse(data.get("started_at")),
            stopped_reason=str(data.get("stopped_reason", "")),
            last_rebalance=_parse(data.get("last_rebalance")),
            rebalance_failures=int(data.get("rebalance_failures", 0)),
            rebalance_retry_at=_parse(data.get("rebalance_retry_at")),
            open_entries={rid: OpenEntry(**raw)
                          for rid, raw in (data.get("open_entries") or {}).items()},
            balances=Balances.from_json(balances) if balances else None,
        )


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Brings a file written by an earlier version up to this one."""
    version = data.get("version")
    if version == 1:
        # Version 1 did not record whether the engine ran: it stays stopped until a StartEngine,
        # as that version behaved.
        data = {**data, "version": 2, "started": False, "mode": "", "sub_account": 0,
                "started_at": None, "stopped_reason": "", "balances": None}
        version = 2
    if version != STATE_VERSION:
        raise ValueError(f"engine state version {data.get('version')!r} is not "
                         f"{STATE_VERSION}")
    return data


class EngineStateFile:
    """Saves are rendered where they are asked (the state is the event loop's) and written in
    the order they were asked: a write that finds a later one already on disk is skipped."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._asked = 0
        self._written = 0

    def load(self) -> EngineState:
        if self.path is None or not self.path.exists():
            return EngineState()
        state = EngineState.from_json(json.loads(self.path.read_text()))
        log.info("engine state loaded", extra={
            "path": str(self.path), "open_entries": len(state.open_entries),
            "last_rebalance": _iso(state.last_rebalance)})
        return state

    def save(self, state: EngineState) -> None:
        """On disk when it returns."""
        self._write(*self._render(state))

    async def save_aside(self, state: EngineState) -> None:
        """On disk when it returns, written on a worker thread: the caller's loop goes on."""
        await asyncio.to_thread(self._write, *self._render(state))

    def _render(self, state: EngineState) -> tuple[int, str]:
        self._asked += 1
        return self._asked, json.dumps(state.to_json(), indent=1, sort_keys=True)

    def _write(self, number: int, text: str) -> None:
        if self.path is None:
            return
        with self._lock:
            if number > self._written:
                write_atomically(self.path, text)
                self._written = number


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
