"""Received transactions, decoded: solders for the wire format and signatures, anchorpy's
InstructionCoder (the venue profile's IDL) for the venue program's instructions, and a journal
tests read.
"""

from __future__ import annotations

import dataclasses
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from construct import Container, ListContainer
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from services.venue_sim.drift_coder import ProgramCoder

COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


class UndecodableTransaction(ValueError):
    """Not a serialized Solana transaction, or one whose lookup tables are not served."""


@dataclass(frozen=True)
class DecodedInstruction:
    program_id: str
    name: str                   # Drift IDL name (snake case), compute budget name, or "unknown"
    args: dict[str, Any]        # plain values: ints, bools, strings, enum variant names
    accounts: list[str]
    data: bytes = b""
    is_drift: bool = False      # an instruction of the venue program (Drift or its fork)


@dataclass(frozen=True)
class DecodedTransaction:
    signature: str
    fee_payer: str
    signatures_valid: bool
    recent_blockhash: str
    instructions: list[DecodedInstruction]
    raw: bytes

    def drift_instructions(self) -> list[DecodedInstruction]:
        return [ix for ix in self.instructions if ix.is_drift]


def plain(value: Any) -> Any:
    """anchorpy's decoded values -> JSON-able: enum variants become their names."""
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Container):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, ListContainer | list | tuple):
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        # sumtypes variants (anchorpy's Rust enums) are dataclass-like classes named by variant
        if type(value).__module__ == "sumtypes":
            return type(value).__name__ if not fields else {type(value).__name__: fields}
        return fields
    if type(value).__module__ == "sumtypes":
        return type(value).__name__
    return value


def _decode_compute_budget(data: bytes) -> tuple[str, dict[str, Any]]:
    if data[:1] == b"\x02" and len(data) >= 5:
        return "set_compute_unit_limit", {"units": struct.unpack_from("<I", data, 1)[0]}
    if data[:1] == b"\x03" and len(data) >= 9:
        return "set_compute_unit_price", {"micro_lamports": struct.unpack_from("<Q", data, 1)[0]}
    return "unknown", {}


def _decode_instruction(coder: ProgramCoder, program: Pubkey, data: bytes,
                        accounts: list[str]) -> DecodedInstruction:
    name, args = "unknown", {}
    if program == coder.program_id:
        try:
            named = coder.instructions.parse(data)
            name, args = named.name, plain(named.data)
        except Exception:  # construct raises many types; an unknown Drift ix is journalled as such
            name = "undecodable"
    elif program == COMPUTE_BUDGET_PROGRAM:
        name, args = _decode_compute_budget(data)
    elif program == MEMO_PROGRAM:
        name, args = "memo", {"text": data.decode(errors="replace")}
    return DecodedInstruction(str(program), name, args, accounts, data,
                              program == coder.program_id)


def decode_transaction(
    raw: bytes, lookup_table: Callable[[Pubkey], list[Pubkey] | None], coder: ProgramCoder
) -> DecodedTransaction:
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception as error:  # solders raises its own (pyo3) error types
        raise UndecodableTransaction(f"not a serialized transaction: {error}") from None
    message = tx.message
    keys = list(message.account_keys)
    loaded_writable: list[Pubkey] = []
    loaded_readonly: list[Pubkey] = []
    for lookup in getattr(message, "address_table_lookups", None) or []:
        table = lookup_table(lookup.account_key)
        if table is None:
            raise UndecodableTransaction(f"lookup table {lookup.account_key} is not served")
        try:
            loaded_writable += [table[i] for i in bytes(lookup.writable_indexes)]
            loaded_readonly += [table[i] for i in bytes(lookup.readonly_indexes)]
        except IndexError:
            raise UndecodableTransaction(
                f"lookup table {lookup.account_key} has no such index"
            ) from None
    keys += loaded_writable + loaded_readonly
    instructions = [
        _decode_instruction(
            coder, keys[ix.program_id_index], bytes(ix.data),
            [str(keys[i]) for i in bytes(ix.accounts)],
        )
        for ix in message.instructions
    ]
    return DecodedTransaction(
        signature=str(tx.signatures[0]),
        fee_payer=str(keys[0]),
        signatures_valid=all(tx.verify_with_results()),
        recent_blockhash=str(message.recent_blockhash),
        instructions=instructions,
        raw=raw,
    )


@dataclass
class JournalEntry:
    method: str                    # sendTransaction or simulateTransaction
    outcome: str                   # the control outcome applied
    transaction: DecodedTransaction
    slot: int
    received_at: float = field(default_factory=time.time)
    effects: list[str] = field(default_factory=list)
    error: Any = None              # the program's refusal (InstructionError), if any

    def to_json(self) -> dict[str, Any]:
        tx = self.transaction
        return {
            "method": self.method, "outcome": self.outcome, "slot": self.slot,
            "received_at": self.received_at, "signature": tx.signature,
            "fee_payer": tx.fee_payer, "signatures_valid": tx.signatures_valid,
            "effects": self.effects, "error": self.error,
            "instructions": [
                {"program_id": ix.program_id, "name": ix.name, "args": ix.args,
                 "accounts": ix.accounts}
                for ix in tx.instructions
            ],
        }


class Journal:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def record(self, entry: JournalEntry) -> JournalEntry:
        self.entries.append(entry)
        return entry

    def sent(self) -> list[JournalEntry]:
        return [entry for entry in self.entries if entry.method == "sendTransaction"]

    def drift_instructions(self, name: str | None = None) -> list[DecodedInstruction]:
        return [
            ix for entry in self.sent() for ix in entry.transaction.drift_instructions()
            if name is None or ix.name == name
        ]

    def clear(self) -> None:
        self.entries.clear()
