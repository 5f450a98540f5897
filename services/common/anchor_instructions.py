"""Instructions and program addresses of an Anchor IDL in the current format, built from the IDL.

An instruction's data is its discriminator and its arguments in borsh, laid out by the IDL's own
types (anchor_idl.py); its accounts come in the IDL's order with the IDL's signer and writable
flags. Program-derived addresses are found from the seeds the IDL records on the accounts of its
instructions, so a fork that renames a seed (Velocity's state is `velocity_state`, Drift's
`drift_state`) is followed without a line of code here. The same tables decode an instruction,
which is how the venue stand-in checks what the executor sends.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from services.common.anchor_idl import DISCRIMINATOR_SIZE, AnchorIdl, IdlError, Layout


class InstructionError(ValueError):
    """An instruction that is none of the IDL's, or whose data or accounts do not fit it."""


@dataclass(frozen=True)
class AccountSlot:
    name: str
    writable: bool
    signer: bool
    address: str | None   # fixed by the IDL (a sysvar, a program)
    seeds: tuple[dict[str, Any], ...] | None


@dataclass(frozen=True)
class InstructionLayout:
    name: str
    discriminator: bytes
    args: tuple[tuple[str, Layout], ...]
    accounts: tuple[AccountSlot, ...]


@dataclass(frozen=True)
class DecodedInstruction:
    name: str
    args: dict[str, Any]
    accounts: dict[str, Pubkey]


class AnchorInstructions:
    def __init__(self, idl: AnchorIdl) -> None:
        self.idl = idl
        self.program_id = Pubkey.from_string(idl.address)
        self._documents = {i["name"]: i for i in idl.instruction_documents}
        self._layouts: dict[str, InstructionLayout] = {}
        self._by_discriminator = {bytes(i["discriminator"]): i["name"]
                                  for i in self._documents.values()}

    def layout(self, name: str) -> InstructionLayout:
        if name not in self._layouts:
            document = self._documents.get(name)
            if document is None:
                raise InstructionError(f"the IDL ({self.idl.label}) has no instruction {name!r}")
            args = tuple((arg["name"], self.idl.layout_of(arg["type"]))
                         for arg in document.get("args", []))
            accounts = tuple(_slot(account) for account in document.get("accounts", []))
            self._layouts[name] = InstructionLayout(name, bytes(document["discriminator"]),
                                                    args, accounts)
        return self._layouts[name]

    def build(self, name: str, args: dict[str, Any],
              accounts: dict[str, Pubkey]) -> Instruction:
        """The instruction with these arguments; each account the IDL does not fix is taken
        from `accounts` by its IDL name. A missing argument or account is refused."""
        layout = self.layout(name)
        missing = [arg for arg, _ in layout.args if arg not in args]
        if missing:
            raise InstructionError(f"{name} needs the arguments {missing}")
        data = layout.discriminator + b"".join(
            arg_layout.write(args[arg]) for arg, arg_layout in layout.args)
        metas = []
        for slot in layout.accounts:
            address = (Pubkey.from_string(slot.address) if slot.address
                       else accounts.get(slot.name))
            if address is None:
                raise InstructionError(f"{name} needs the account {slot.name!r}")
            metas.append(AccountMeta(address, is_signer=slot.signer, is_writable=slot.writable))
        return Instruction(self.program_id, data, metas)

    def decode(self, instruction: Instruction) -> DecodedInstruction:
        """The instruction as the IDL reads it: refused unless it is for this program, its
        data is exactly one instruction's arguments, and its accounts carry the IDL's flags."""
        if instruction.program_id != self.program_id:
            raise InstructionError(f"an instruction for {instruction.program_id}, not for "
                                   f"{self.program_id} ({self.idl.label})")
        data = bytes(instruction.data)
        name = self._by_discriminator.get(data[:DISCRIMINATOR_SIZE])
        if name is None:
            raise InstructionError(f"the discriminator {data[:8].hex()} is no instruction of "
                                   f"{self.idl.label}")
        layout = self.layout(name)
        args: dict[str, Any] = {}
        at = DISCRIMINATOR_SIZE
        try:
            for arg, arg_layout in layout.args:
                args[arg], at = arg_layout.read(data, at)
        except (ValueError, IndexError, struct.error) as error:
            raise InstructionError(f"{name}'s arguments do not decode: {error}") from None
        if at != len(data):
            raise InstructionError(f"{name}'s arguments take {at - DISCRIMINATOR_SIZE} bytes; "
                                   f"the instruction carries {len(data) - DISCRIMINATOR_SIZE}")
        metas = list(instruction.accounts)
        if len(metas) < len(layout.accounts):
            raise InstructionError(f"{name} takes {len(layout.accounts)} accounts, given "
                                   f"{len(metas)}")
        accounts = {}
        for slot, meta in zip(layout.accounts, metas, strict=False):
            if (slot.signer and not meta.is_signer) or (slot.writable and not meta.is_writable):
                raise InstructionError(f"{name}'s account {slot.name} must be"
                                       f"{' a signer' if slot.signer else ''}"
                                       f"{' writable' if slot.writable else ''}")
            if slot.address and str(meta.pubkey) != slot.address:
                raise InstructionError(f"{name}'s account {slot.name} must be {slot.address}")
            accounts[slot.name] = meta.pubkey
        return DecodedInstruction(name, args, accounts)

    def address(self, account: str, **values: Any) -> Pubkey:
        """The program-derived address of `account` (an IDL account name: `state`, `user`,
        `perp_market`, ...), from the first seeds the IDL records for it whose inputs are all
        given: an `arg` seed by its argument's name (encoded with its IDL type), an `account`
        seed by the account's name."""
        for name in self._documents:
            layout = self.layout(name)
            for slot in layout.accounts:
                if slot.name != account or slot.seeds is None:
                    continue
                seeds = self._seeds(layout, slot.seeds, values)
                if seeds is not None:
                    return Pubkey.find_program_address(seeds, self.program_id)[0]
        raise IdlError(f"the IDL ({self.idl.label}) records no seeds for {account!r} made of "
                       f"{sorted(values) or 'constants only'}")

    def _seeds(self, layout: InstructionLayout, seeds: tuple[dict[str, Any], ...],
               values: dict[str, Any]) -> list[bytes] | None:
        args = dict(layout.args)
        parts, used = [], set()
        for seed in seeds:
            kind = seed["kind"]
            if kind == "const":
                parts.append(bytes(seed["value"]))
                continue
            path = seed.get("path", "")
            if path not in values or (kind == "arg" and path not in args):
                return None
            used.add(path)
            value = values[path]
            parts.append(args[path].write(value) if kind == "arg" else bytes(value))
        return parts if used == set(values) else None


def _slot(account: dict[str, Any]) -> AccountSlot:
    if "accounts" in account:
        raise IdlError(f"the composite account group {account['name']!r} is not supported")
    pda = account.get("pda")
    if pda is not None and "program" in pda:
        pda = None  # seeds under another program (an associated token account): not ours
    return AccountSlot(account["name"], bool(account.get("writable")),
                       bool(account.get("signer")), account.get("address"),
                       tuple(pda["seeds"]) if pda else None)
