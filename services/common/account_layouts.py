"""A venue IDL's accounts coder that refuses buffers of another layout instead of misreading them.

Anchor names an account by sha256("account:" + name)[:8], so a fork that reorganises an account
keeps its discriminator: Velocity's PerpMarket, User and State start with the same 8 bytes as
Drift's. anchorpy's AccountsCoder picks the layout by those bytes and construct ignores trailing
bytes, so Drift's coder reads a Velocity account without error and with wrong values.
`StrictAccountsCoder` checks, before decoding, that the discriminator is one of its IDL's accounts
and that the buffer is exactly as long as that IDL says the account is.

It is an anchorpy AccountsCoder, so it replaces `program.coder.accounts` and driftpy's reads
(which call `program.coder.accounts.decode(data)`) go through it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anchorpy import Idl
from anchorpy.coder.accounts import ACCOUNT_DISCRIMINATOR_SIZE, AccountsCoder
from anchorpy_core.idl import (
    IdlField,
    IdlType,
    IdlTypeArray,
    IdlTypeDefined,
    IdlTypeDefinition,
    IdlTypeDefinitionTyAlias,
    IdlTypeDefinitionTyEnum,
    IdlTypeOption,
    IdlTypeSimple,
    IdlTypeVec,
)

_SIMPLE_SIZES = {
    IdlTypeSimple.Bool: 1, IdlTypeSimple.U8: 1, IdlTypeSimple.I8: 1,
    IdlTypeSimple.U16: 2, IdlTypeSimple.I16: 2,
    IdlTypeSimple.U32: 4, IdlTypeSimple.I32: 4, IdlTypeSimple.F32: 4,
    IdlTypeSimple.U64: 8, IdlTypeSimple.I64: 8, IdlTypeSimple.F64: 8,
    IdlTypeSimple.U128: 16, IdlTypeSimple.I128: 16,
    IdlTypeSimple.U256: 32, IdlTypeSimple.I256: 32,
    IdlTypeSimple.PublicKey: 32,
}
# borsh: a string, byte string or vector is a u32 length then its items; an option a u8 tag.
_LENGTH_PREFIX = 4
_OPTION_TAG = 1
_ENUM_TAG = 1


@dataclass(frozen=True)
class LayoutSize:
    """Bytes of a borsh layout: exact when `fixed`, else the least it can take."""

    least: int
    fixed: bool

    def __add__(self, other: LayoutSize) -> LayoutSize:
        return LayoutSize(self.least + other.least, self.fixed and other.fixed)


_NOTHING = LayoutSize(0, True)


class AccountLayoutError(ValueError):
    """A buffer that is no account of this IDL in this IDL's layout: decoding it would give
    wrong values, so it is refused. `account` is the IDL's name for its discriminator (None
    when the discriminator is none of the IDL's), `expected` the IDL's size for it (None then),
    `actual` the buffer's length."""

    def __init__(self, message: str, *, account: str | None, expected: int | None,
                 actual: int) -> None:
        super().__init__(message)
        self.account = account
        self.expected = expected
        self.actual = actual


def require_layout(data: bytes, name: str | None, size: LayoutSize | None,
                   idl_label: str) -> None:
    """Refuses `data` unless its discriminator names an account of the IDL (`name`, None when
    it names none) and it is the size the IDL gives that account (`size`; None: a size only
    decoding can check)."""
    actual = len(data)
    if name is None:
        raise AccountLayoutError(
            f"an account of {actual} bytes starts with "
            f"{bytes(data[:ACCOUNT_DISCRIMINATOR_SIZE]).hex() or 'nothing'}, the "
            f"discriminator of no account in this venue's IDL ({idl_label}): the RPC "
            "serves another program's account",
            account=None, expected=None, actual=actual)
    if size is None or actual == size.least or (not size.fixed and actual > size.least):
        return
    says = f"{size.least}" if size.fixed else f"at least {size.least}"
    raise AccountLayoutError(
        f"the {name} account is {actual} bytes; this venue's IDL ({idl_label}) says "
        f"{says} for {name}: the RPC serves another program's layout",
        account=name, expected=size.least, actual=actual)


def _sum(sizes: list[LayoutSize]) -> LayoutSize:
    total = _NOTHING
    for size in sizes:
        total = total + size
    return total


def _type_size(ty: IdlType, types: dict[str, IdlTypeDefinition]) -> LayoutSize:
    if isinstance(ty, IdlTypeSimple):
        if ty in _SIMPLE_SIZES:
            return LayoutSize(_SIMPLE_SIZES[ty], True)
        return LayoutSize(_LENGTH_PREFIX, False)  # String, Bytes
    if isinstance(ty, IdlTypeVec):
        return LayoutSize(_LENGTH_PREFIX, False)
    if isinstance(ty, IdlTypeOption):
        return LayoutSize(_OPTION_TAG, False)
    if isinstance(ty, IdlTypeArray):
        item, count = ty.array
        size = _type_size(item, types)
        return LayoutSize(size.least * count, size.fixed)
    if isinstance(ty, IdlTypeDefined):
        return _definition_size(types[ty.defined], types)
    raise ValueError(f"no size rule for IDL type {ty}")


def _fields_size(fields: list[Any], types: dict[str, IdlTypeDefinition]) -> LayoutSize:
    return _sum([_type_size(f.ty if isinstance(f, IdlField) else f, types) for f in fields])


def _definition_size(definition: IdlTypeDefinition,
                     types: dict[str, IdlTypeDefinition]) -> LayoutSize:
    kind = definition.ty
    if isinstance(kind, IdlTypeDefinitionTyAlias):
        return _type_size(kind.value, types)
    if isinstance(kind, IdlTypeDefinitionTyEnum):
        # A u8 tag then the variant's fields: fixed only when every variant takes the same bytes
        # (Drift's zero-copy enums are all field-less).
        variants = [_fields_size(v.fields.fields, types) if v.fields else _NOTHING
                    for v in kind.variants]
        same = len({v.least for v in variants}) == 1 and all(v.fixed for v in variants)
        return LayoutSize(_ENUM_TAG + min(v.least for v in variants), same)
    return _fields_size(kind.fields or [], types)


def account_sizes(idl: Idl) -> dict[str, LayoutSize]:
    """Each account's size with its discriminator, from the IDL's types (the layouts anchorpy
    builds its construct coder from; construct cannot size borsh enums itself)."""
    types = {definition.name: definition for definition in [*idl.types, *idl.accounts]}
    discriminator = LayoutSize(ACCOUNT_DISCRIMINATOR_SIZE, True)
    return {account.name: discriminator + _definition_size(account, types)
            for account in idl.accounts}


class StrictAccountsCoder(AccountsCoder):
    """anchorpy's AccountsCoder that decodes only buffers of its IDL's accounts and sizes.

    Drift's zero-copy accounts (State, PerpMarket, SpotMarket, User, UserStats, ...) have a fixed
    size and must match it exactly. An account with a vector or an option has no fixed size; it
    must be at least its least size (the check is weaker there, and the message says so)."""

    def __init__(self, idl: Idl) -> None:
        super().__init__(idl)
        self.idl_label = f"{idl.name} {idl.version}"
        self.sizes = account_sizes(idl)

    def check(self, data: bytes) -> str:
        """The IDL's account name for `data`; AccountLayoutError when it is not one, in size."""
        name = self.discriminator_to_acc_name.get(bytes(data[:ACCOUNT_DISCRIMINATOR_SIZE]))
        require_layout(data, name, self.sizes[name] if name else None, self.idl_label)
        assert name is not None
        return name

    def decode(self, obj: bytes) -> Any:
        self.check(obj)
        return super().decode(obj)
