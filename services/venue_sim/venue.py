"""The stand-in venue: its profile, accounts, chain, behaviour switch, journal and statuses.

`receive` is what simulateTransaction and sendTransaction share: decode, verify, journal, then
do what the control's outcome says. With outcome "confirm" the program's own refusals
(effects.OnChainFailure: a fill beyond its limit, a reduce-only order that would not reduce...)
decide: preflight (simulate, or send without skipPreflight) answers them as a real node does
(-32002 with the program's logs); with skipPreflight the transaction lands failed.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from services.common.venue_profile import VenueProfile
from services.venue_sim.accounts import AccountStore, build_store, load_snapshot
from services.venue_sim.chain import Chain
from services.venue_sim.control import Control
from services.venue_sim.drift_coder import program_coder, serves_velocity
from services.venue_sim.effects import (
    OnChainFailure,
    ProgramEffect,
    apply_confirmed,
    apply_drift_instruction,
)
from services.venue_sim.synthetic import ADDRESS_LOOKUP_TABLE_PROGRAM
from services.venue_sim.tx_decode import (
    DecodedTransaction,
    Journal,
    JournalEntry,
    UndecodableTransaction,
    decode_transaction,
)
from services.venue_sim.velocity_effects import apply_velocity_instruction
from services.venue_sim.velocity_store import VelocityAccountStore, recorded_coder

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
    control: Control | None = None
    journal: Journal = field(default_factory=Journal)
    statuses: dict[str, SignatureStatus] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # RPC methods asked for, by name
    # never_confirm transactions by signature: they can still land late (land_held).
    held: dict[str, tuple[DecodedTransaction, JournalEntry]] = field(default_factory=dict)
    genesis_hash: str = ""  # getGenesisHash; "" means the profile's cluster genesis hash
    # what an instruction of the venue program does: Drift's effects, or Velocity's on its layouts
    program_effect: ProgramEffect = field(init=False)

    def __post_init__(self) -> None:
        if self.control is None:
            self.control = Control(self.store.program_id)
        self.genesis_hash = self.genesis_hash or self.store.profile.genesis_hash
        self.program_effect = (apply_velocity_instruction
                               if isinstance(self.store, VelocityAccountStore)
                               else apply_drift_instruction)

    @property
    def profile(self) -> VenueProfile:
        return self.store.profile

    @property
    def program_id(self) -> Pubkey:
        return self.store.program_id

    @classmethod
    def from_file(cls, path: Path, *, profile: VenueProfile, paused: bool = False,
                  wallets: tuple[Pubkey, ...] = (), genesis_hash: str = "") -> Venue:
        profile.require_supported()  # before its IDL is read with Drift's coder
        # The recordings are Drift's; a venue of the current IDL format (Velocity) serves them
        # re-encoded into its own layout.
        records = load_snapshot(path, recorded_coder() if serves_velocity(profile)
                                else program_coder(profile))
        store = build_store(records, profile=profile, paused=paused, wallets=wallets)
        return cls(store, Chain(start_slot=_latest_recorded_slot(store) + 1_000),
                   genesis_hash=genesis_hash)

    def lookup_table(self, address: Pubkey) -> list[Pubkey] | None:
        account = self.store.get(address)
        if account is None or account.owner != ADDRESS_LOOKUP_TABLE_PROGRAM:
            return None
        data = account.data
        return [Pubkey.from_bytes(data[i:i + 32])
                for i in range(LOOKUP_TABLE_META_SIZE, len(data), 32)]

    def _decode(self, raw: bytes) -> DecodedTransaction:
        try:
            return decode_transaction(raw, self.lookup_table, self.store.coder)
        except UndecodableTransaction as error:
            raise Refusal(-32602, f"invalid transaction: {error}") from None

    def _dry_run(self, tx: DecodedTransaction, slot: int) -> OnChainFailure | None:
        try:
            with self.store.atomic(keep=False):
                apply_confirmed(self.store, tx, slot, self.program_effect)
        except OnChainFailure as failure:
            return failure
        return None

    def simulate(self, raw: bytes) -> SimulationResult:
        tx = self._decode(raw)
        behaviour = self.control.behaviour
        slot = self.chain.slot()
        outcome = behaviour.outcome_for(tx)
        entry = self.journal.record(JournalEntry("simulateTransaction", outcome, tx, slot))
        if outcome == "fail_simulation":
            return SimulationResult(behaviour.error, list(behaviour.logs))
        failure = self._dry_run(tx, slot)
        if failure is not None:
            entry.effects, entry.error = [failure.note()], failure.err()
            return SimulationResult(failure.err(), failure.logs(str(self.program_id)))
        return SimulationResult(None, _success_logs(tx))

    def send(self, raw: bytes, skip_preflight: bool) -> str:
        tx = self._decode(raw)
        behaviour = self.control.behaviour
        slot = self.chain.slot()
        outcome = behaviour.outcome_for(tx)
        entry = self.journal.record(JournalEntry("sendTransaction", outcome, tx, slot))
        if not tx.signatures_valid:
            raise Refusal(-32003, "Transaction signature verification failure")
        if not self.chain.is_blockhash_valid(tx.recent_blockhash):
            if not skip_preflight:
                raise Refusal(-32002, "Transaction simulation failed: Blockhash not found",
                              _preflight_data("BlockhashNotFound", []))
            return tx.signature  # a real node drops it silently: it never lands
        if outcome == "fail_simulation" and not skip_preflight:
            message = "Transaction simulation failed: Error processing Instruction 0"
            raise Refusal(-32002, message, _preflight_data(behaviour.error, list(behaviour.logs)))
        if outcome == "never_confirm":
            self.held[tx.signature] = (tx, entry)
            return tx.signature
        if outcome in ("fail_on_chain", "fail_simulation"):
            self.statuses[tx.signature] = SignatureStatus(slot, behaviour.error)
            return tx.signature
        if not skip_preflight:
            failure = self._dry_run(tx, slot)
            if failure is not None:
                entry.effects, entry.error = [f"preflight {failure.note()}"], failure.err()
                raise Refusal(
                    -32002,
                    f"Transaction simulation failed: Error processing Instruction "
                    f"{failure.instruction_index}: custom program error: {failure.code:#x}",
                    _preflight_data(failure.err(), failure.logs(str(self.program_id))))
        self._land(tx, entry, slot)
        return tx.signature

    def land_held(self, signature: str = "") -> list[str]:
        """Lands transactions sent under never_confirm (one, or all when no signature is
        given) as a late confirmation would; those whose blockhash expired never land."""
        landed = []
        for held_signature, (tx, entry) in list(self.held.items()):
            if signature and held_signature != signature:
                continue
            del self.held[held_signature]
            if self.chain.is_blockhash_valid(tx.recent_blockhash):
                self._land(tx, entry, self.chain.slot())
                landed.append(held_signature)
        return landed

    def _land(self, tx: DecodedTransaction, entry: JournalEntry, slot: int) -> None:
        try:
            with self.store.atomic():
                entry.effects = apply_confirmed(self.store, tx, slot, self.program_effect)
        except OnChainFailure as failure:
            self.statuses[tx.signature] = SignatureStatus(slot, failure.err())
            entry.effects, entry.error = [failure.note()], failure.err()
            logger.info("transaction failed on chain", extra={"tx_signature": tx.signature,
                                                              "effects": entry.effects})
            return
        self.statuses[tx.signature] = SignatureStatus(slot)
        logger.info("transaction confirmed", extra={"tx_signature": tx.signature,
                                                    "effects": entry.effects})


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
    markets = [store.decoded(a.address) for a in store.of_kind("PerpMarket")]
    slots = [m["amm"]["last_update_slot"] if isinstance(m, dict) else m.amm.last_update_slot
             for m in markets]
    return max(slots, default=300_000_000)
