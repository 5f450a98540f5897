"""The venue program's IDL coders (the profile's IDL), for reading and writing account bytes.

One `ProgramCoder` per venue profile: its program id and the IDL the profile names. Accounts are
decoded by the strict coder (services.common.account_layouts): a buffer of another layout is
refused, never misread. anchorpy builds dataclass accounts through `dataclasses.asdict`, which
deep-copies every field; solders' Pubkey cannot be pickled, so the copy fails. Registering a
reducer for Pubkey (it is immutable; a copy is the same 32 bytes) lets the real coder re-encode
decoded accounts.
"""

from __future__ import annotations

import copyreg
import dataclasses
from dataclasses import dataclass
from functools import cache
from typing import Any

from anchorpy import Idl
from anchorpy.coder.accounts import ACCOUNT_DISCRIMINATOR_SIZE
from anchorpy.coder.instruction import InstructionCoder
from anchorpy.program.common import NamedInstruction
from solders.instruction import AccountMeta
from solders.pubkey import Pubkey

from services.common.account_layouts import StrictAccountsCoder
from services.common.venue_profile import VenueProfile

copyreg.pickle(Pubkey, lambda key: (Pubkey.from_bytes, (bytes(key),)))


@dataclass(frozen=True, eq=False)
class ProgramCoder:
    """A venue program: its id and its IDL's account and instruction coders."""

    program_id: Pubkey
    idl: Idl
    accounts: StrictAccountsCoder
    instructions: InstructionCoder

    def account_name(self, data: bytes) -> str | None:
        """The IDL account name of a buffer, from its 8-byte discriminator; None if not one."""
        return self.accounts.discriminator_to_acc_name.get(bytes(data[:8]))

    def decode(self, data: bytes) -> Any:
        return self.accounts.decode(data)

    def encode(self, name: str, account: Any) -> bytes:
        return self.accounts.build(NamedInstruction(name=name, data=account))

    def blank(self, name: str) -> Any:
        """A zeroed account of the IDL type `name`, decoded: the start of synthetic accounts."""
        zeros = bytes(self.accounts.sizes[name].least - ACCOUNT_DISCRIMINATOR_SIZE)
        return self.decode(self.accounts.acc_name_to_discriminator[name] + zeros)

    def read_instruction(self, data: bytes,
                         metas: list[AccountMeta]) -> tuple[str, Any, dict[str, str]]:
        """(name, arguments, named accounts) of one of the program's instructions; anchorpy's
        coder does not name the accounts, so that dict is empty."""
        named = self.instructions.parse(data)
        return named.name, named.data, {}

    def error_code(self, name: str) -> int:
        return next(error.code for error in self.idl.errors if error.name == name)


@cache
def _coder(program_id: str, idl_json: str) -> ProgramCoder:
    idl = Idl.from_json(idl_json)
    return ProgramCoder(Pubkey.from_string(program_id), idl, StrictAccountsCoder(idl),
                        InstructionCoder(idl))


def program_coder(profile: VenueProfile) -> ProgramCoder:
    return _coder(profile.program_id, profile.idl_json())


def serves_velocity(profile: VenueProfile) -> bool:
    """True for a Velocity profile: its IDL (Anchor >= 0.30, which anchorpy cannot read) and
    layouts go through services/common/anchor_idl.py (velocity_coder.py), not this coder."""
    return profile.family == "velocity"


def replace(account: Any, **changes: Any) -> Any:
    return dataclasses.replace(account, **changes)
