"""Velocity's program as the stand-in reads and writes it, all from the profile's IDL (Anchor
>= 0.30 format, which anchorpy cannot read): accounts through services/common/anchor_idl.py (plain
dicts, refused when not exactly the IDL's layout), instructions and PDAs through
services/common/anchor_instructions.py, error codes from the IDL's `errors`.

It answers what `drift_coder.ProgramCoder` answers (program_id, account_name, decode, encode,
blank, read_instruction, error_code), so the store, the transaction decoder and the journal use
either without asking which. The IDL's `address` is replaced by the profile's program id: the
profile, not the IDL file, says which program the stand-in serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from services.common.anchor_idl import DISCRIMINATOR_SIZE, AnchorAccountsDecoder, AnchorIdl
from services.common.anchor_instructions import AnchorInstructions
from services.common.venue_profile import VenueProfile


@dataclass(frozen=True, eq=False)
class VelocityCoder:
    program_id: Pubkey
    accounts: AnchorAccountsDecoder
    instructions: AnchorInstructions
    errors: dict[str, tuple[int, str]]   # name -> (code, message)

    @property
    def idl(self) -> AnchorIdl:
        return self.accounts.idl

    def account_name(self, data: bytes) -> str | None:
        account = self.idl.by_discriminator.get(bytes(data[:DISCRIMINATOR_SIZE]))
        return account.name if account else None

    def decode(self, data: bytes) -> dict[str, Any]:
        return self.accounts.decode(data).values

    def encode(self, name: str, values: dict[str, Any]) -> bytes:
        return self.accounts.encode(name, values)

    def blank(self, name: str) -> dict[str, Any]:
        return self.accounts.blank(name)

    def address(self, account: str, **seeds: Any) -> Pubkey:
        """A PDA the IDL records seeds for: state, user, user_stats, perp_market, ..."""
        return self.instructions.address(account, **seeds)

    def read_instruction(self, data: bytes,
                         metas: list[AccountMeta]) -> tuple[str, Any, dict[str, str]]:
        """Raises services.common.anchor_instructions.InstructionError for data or accounts
        that are none of the IDL's instructions."""
        decoded = self.instructions.decode(Instruction(self.program_id, data, metas))
        return decoded.name, decoded.args, {name: str(key)
                                            for name, key in decoded.accounts.items()}

    def error_code(self, name: str) -> int:
        return self.errors[name][0]

    def error_message(self, name: str) -> str:
        return self.errors[name][1]


@cache
def _coder(program_id: str, idl_json: str) -> VelocityCoder:
    document = {**json.loads(idl_json), "address": program_id}
    idl = AnchorIdl(document)
    errors = {error["name"]: (error["code"], error.get("msg", error["name"]))
              for error in document.get("errors", [])}
    return VelocityCoder(Pubkey.from_string(program_id), AnchorAccountsDecoder(idl),
                         AnchorInstructions(idl), errors)


def velocity_coder(profile: VenueProfile) -> VelocityCoder:
    return _coder(profile.program_id, profile.idl_json())
