"""The stand-in venue: its accounts, chain, behaviour switch, journal and signature statuses.

`receive` is what simulateTransaction and sendTransaction share: decode, verify, journal, then
do what the control's outcome says.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from services.venue_sim.accounts import AccountStore, build_store, load_snapshot
from services.venue_sim.chain import Chain
from services.venue_sim.control import Control
from services.venue_sim.drift_coder import decode_account
from services.venue_sim.effects import apply_confirmed
from services.venue_sim.synthetic import ADDRESS_LOOKUP_TABLE_PROGRAM
from services.venue_sim.tx_decode import (
    DecodedTransaction,
    Journal,
    JournalEntry,
    UndecodableTransaction,
    decode_transaction,
)

logger = logging.getLogger(__name__)
LOOKUP_TABLE_META_SIZE = 56
UNITS_CONSUMED = 45_000


@dataclass(frozen=True)
class SignatureStatus:
    slot: int
    err: Any = None


@dataclass
class Refusal(Exception):
    """A JSON-RPC error answer: code, message and optional data, as a real node sends."""

    code: int
    message: str
    data: Any = None


@dataclass
class SimulationResult:
    err: Any
    logs: list[str]
    units_consumed: int = UNITS_CONSUMED


@dataclass
class Venue:
    store: AccountStore
    chain: Chain
    control: Control = field(default_factory=Control)
    journal: Journal = field(default_factory=Journal)
    statuses: dict[str, SignatureStatus] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # RPC methods asked for, by name

    @classmethod
    def from_file(cls, path: Path, *, paused: bool = False,
                  wallets: tuple[Pubkey, ...] = ()) -> Venue:
        store = build_store(load_snapshot(path), paused=paused, wallets=wallets)
        return cls(store, Chain(start_slot=_latest_recorded_slot(store) + 1_000))

    def lookup_table(self, address: Pubkey) -> list[Pubkey] | None:
        account = self.store.get(address)
        if account is None or account.owner != ADDRESS_LOOKUP_TABLE_PROGRAM:
            return None
        data = account.data
        return [Pubkey.from_bytes(data[i:i + 32])
                for i in range(LOOKUP_TABLE_META_SIZE, len(data), 32)]

    def _decode(self, raw: bytes) -> DecodedTransaction:
        try:
            return decode_transaction(raw, self.lookup_table)
        except UndecodableTransaction as error:
            raise Refusal(-32602, f"invalid transaction: {error}") from None

    def simulate(self, raw: bytes) -> SimulationResult:
        tx = self._decode(raw)
        behaviour = self.control.behaviour
        self.journal.record(JournalEntry("simulateTransaction", behaviour.outcome, tx,
                                         self.chain.slot()))
        if behaviour.outcome == "fail_simulation":
            return SimulationResult(behaviour.error, list(behaviour.logs))
        return SimulationResult(None, _success_logs(tx))

    def send(self, raw: bytes, skip_preflight: bool) -> str:
        tx = self._decode(raw)
        behaviour = self.control.behaviour
        slot = self.chain.slot()
        entry = self.journal.record(JournalEntry("sendTransaction", behaviour.outcome, tx, slot))
        if not tx.signatures_valid:
            raise Refusal(-32003, "Transaction signature verification failure")
        if not self.chain.is_blockhash_valid(tx.recent_blockhash):
            if not skip_preflight:
                raise Refusal(-32002, "Transaction simulation failed: Blockhash not found",
                              _preflight_data("BlockhashNotFound", []))
            return tx.signature  # a real node drops it silently: it never lands
        if behaviour.outcome == "fail_simulation" and not skip_preflight:
            message = "Transaction simulation failed: Error processing Instruction 0"
            raise Refusal(-32002, message, _preflight_data(behaviour.error, list(behaviour.logs)))
        if behaviour.outcome == "never_confirm":
            return tx.signature
        if behaviour.outcome in ("fail_on_chain", "fail_simulation"):
            self.statuses[tx.signature] = SignatureStatus(slot, behaviour.error)
            return tx.signature
        self.statuses[tx.signature] = SignatureStatus(slot)
        entry.effects = apply_confirmed(self.store, tx, slot)
        logger.info("transaction confirmed", extra={"tx_signature": tx.signature,
                                                    "effects": entry.effects})
        return tx.signature


def _success_logs(tx: DecodedTransaction) -> list[str]:
    logs = []
    for ix in tx.instructions:
        logs.append(f"Program {ix.program_id} invoke [1]")
        if ix.is_drift:
            logs.append(f"Program log: Instruction: {_camel(ix.name)}")
        logs.append(f"Program {ix.program_id} success")
    return logs


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head.capitalize() + "".join(part.capitalize() for part in rest)


def _preflight_data(err: Any, logs: list[str]) -> dict[str, Any]:
    return {"err": err, "logs": logs, "accounts": None, "unitsConsumed": 0,
            "returnData": None, "innerInstructions": None}


def _latest_recorded_slot(store: AccountStore) -> int:
    slots = [decode_account(a.data).amm.last_update_slot for a in store.of_kind("PerpMarket")]
    return max(slots, default=300_000_000)
