"""Drift's IDL coders (driftpy's bundled drift.json), for reading and writing account bytes.

anchorpy builds dataclass accounts through `dataclasses.asdict`, which deep-copies every field;
solders' Pubkey cannot be pickled, so the copy fails. Registering a reducer for Pubkey (it is
immutable; a copy is the same 32 bytes) lets the real coder re-encode decoded accounts.
"""

from __future__ import annotations

import copyreg
import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

import driftpy
from anchorpy import Idl
from anchorpy.coder.accounts import AccountsCoder
from anchorpy.coder.instruction import InstructionCoder
from anchorpy.program.common import NamedInstruction
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.pubkey import Pubkey

PROGRAM_ID: Pubkey = DRIFT_PROGRAM_ID
IDL_DIR = Path(driftpy.__file__).parent / "idl"

copyreg.pickle(Pubkey, lambda key: (Pubkey.from_bytes, (bytes(key),)))


@cache
def drift_idl() -> Idl:
    return Idl.from_json((IDL_DIR / "drift.json").read_text())


@cache
def accounts_coder() -> AccountsCoder:
    return AccountsCoder(drift_idl())


@cache
def instruction_coder() -> InstructionCoder:
    return InstructionCoder(drift_idl())


def account_name(data: bytes) -> str | None:
    """The IDL account name of a buffer, from its 8-byte discriminator; None if not Drift's."""
    return accounts_coder().discriminator_to_acc_name.get(bytes(data[:8]))


def decode_account(data: bytes) -> Any:
    return accounts_coder().decode(data)


def encode_account(name: str, account: Any) -> bytes:
    return accounts_coder().build(NamedInstruction(name=name, data=account))


# Longer than any Drift account (User is 4376 bytes): the coder reads what the type needs.
_ZEROS = bytes(16_384)


def blank_account(name: str) -> Any:
    """A zeroed account of the IDL type `name`, decoded: the start of every synthetic account."""
    discriminator = accounts_coder().acc_name_to_discriminator[name]
    return decode_account(discriminator + _ZEROS)


def replace(account: Any, **changes: Any) -> Any:
    return dataclasses.replace(account, **changes)
