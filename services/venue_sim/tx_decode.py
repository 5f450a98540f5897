"""Received transactions, decoded: solders for the wire format and signatures, the venue
profile's coder for the venue program's instructions (anchorpy's InstructionCoder for Drift's
legacy IDL, services/common/anchor_instructions.py for Velocity's: velocity_coder.py), and a
journal tests read.

Each instruction's accounts carry the signer and writable flags the message gives them (its
header, and the lookup tables' writable and read-only lists), so a coder that checks them against
its IDL (Velocity's) judges what a real program would be given.
"""

from __future__ import annotations

import dataclasses
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from construct import Container, ListContainer
from solders.instruction import AccountMeta
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

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
    # the IDL's name of each account (Velocity's coder names them; anchorpy's does not)
    named_accounts: dict[str, str] = field(default_factory=dict)
    why_undecodable: str = ""   # for name "undecodable": what the IDL refused


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
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
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


class InstructionReader(Protocol):
    """What decoding needs of a venue coder (drift_coder.ProgramCoder, VelocityCoder)."""

    program_id: Pubkey

    def read_instruction(self, data: bytes,
                         metas: list[AccountMeta]) -> tuple[str, Any, dict[str, str]]: ...


def _decode_instruction(coder: InstructionReader, program: Pubkey, data: bytes,
                        metas: list[AccountMeta]) -> DecodedInstruction:
    name, args, named, why = "unknown", {}, {}, ""
    if program == coder.program_id:
        try:
            name, decoded, named = coder.read_instruction(data, metas)
            args = plain(decoded)
        except Exception as error:  # construct raises many types; journalled as undecodable
            name, why = "undecodable", str(error) or type(error).__name__
    elif program == COMPUTE_BUDGET_PROGRAM:
        name, args = _decode_compute_budget(data)
    elif program == MEMO_PROGRAM:
        name, args = "memo", {"text": data.decode(errors="replace")}
    return DecodedInstruction(str(program), name, args, [str(meta.pubkey) for meta in metas],
                              data, program == coder.program_id, named, why)


def _flags(message: Any, static: int, loaded_writable: int) -> Callable[[int], tuple[bool, bool]]:
    """(signer, writable) of the message's key at an index: the header splits the static keys
    into writable and read-only signers, then writable and read-only others; loaded keys come
    writable first."""
    header = message.header
    signers = header.num_required_signatures

    def flags(index: int) -> tuple[bool, bool]:
        if index < signers:
            return True, index < signers - header.num_readonly_signed_accounts
        if index < static:
            return False, index < static - header.num_readonly_unsigned_accounts
        return False, index < static + loaded_writable
    return flags


def decode_transaction(
    raw: bytes, lookup_table: Callable[[Pubkey], list[Pubkey] | None], coder: InstructionReader
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
    flags = _flags(message, len(keys), len(loaded_writable))
    keys += loaded_writable + loaded_readonly
    instructions = [
        _decode_instruction(
            coder, keys[ix.program_id_index], bytes(ix.data),
            [AccountMeta(keys[i], *flags(i)) for i in bytes(ix.accounts)],
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
                 "accounts": ix.accounts, "named_accounts": ix.named_accounts}
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
