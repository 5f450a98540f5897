"""Accounts of an Anchor IDL in the current format (Anchor >= 0.30, IDL spec 0.1.0): their layouts
computed from the IDL's own types, and a decoder that checks each buffer's discriminator and size.

Velocity publishes its IDL in this format only, and anchorpy (0.21, driftpy's) reads the legacy
one. So nothing here is hand-copied: a struct's fields follow one another in declaration order
(borsh), and a zero-copy (`bytemuck`) `repr(C)` struct must come out the same under C's alignment
on Solana's SBF target (a u128 aligns to 8 there), or the IDL is refused: a layout that would need
padding the IDL does not show is not guessed at.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from services.common.account_layouts import AccountLayoutError, LayoutSize, require_layout

DISCRIMINATOR_SIZE = 8
Reader = Callable[[bytes, int], Any]
Writer = Callable[[Any], bytes]
_INTEGERS = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i",
             "u64": "<Q", "i64": "<q", "f32": "<f", "f64": "<d"}
SBF_U128_ALIGN = 8


class IdlError(ValueError):
    """An IDL this module cannot lay out without guessing."""


class InvalidValue(ValueError):
    """Bytes that are no value of their type (an enum tag or a bool out of range)."""


@dataclass(frozen=True)
class Layout:
    """How one type sits in bytes: `size` (None: borsh, variable), its SBF alignment, a
    name as the IDL writes it, `read(data, offset) -> (value, next offset)` and `write(value)
    -> bytes`, its inverse."""

    name: str
    size: int | None
    align: int
    read: Callable[[bytes, int], tuple[Any, int]]
    write: Writer


@dataclass(frozen=True)
class FieldLayout:
    name: str
    type_name: str
    offset: int   # from the start of its struct (an account's: after the discriminator)
    size: int


@dataclass(frozen=True)
class AccountLayout:
    name: str
    discriminator: bytes
    layout: Layout
    fields: tuple[FieldLayout, ...]

    @property
    def size(self) -> int | None:
        """With the discriminator; None for a borsh account with a vector or an option."""
        return None if self.layout.size is None else DISCRIMINATOR_SIZE + self.layout.size

    def field(self, name: str) -> FieldLayout:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.name} has no field {name!r}")


@dataclass(frozen=True)
class DecodedAccount:
    name: str
    values: dict[str, Any]


def _fixed(name: str, size: int, align: int, reader: Reader, writer: Writer) -> Layout:
    return Layout(name, size, align, lambda data, at: (reader(data, at), at + size), writer)


def _primitive(name: str) -> Layout:
    if name in _INTEGERS:
        codec = struct.Struct(_INTEGERS[name])
        return _fixed(name, codec.size, codec.size,
                      lambda data, at: codec.unpack_from(data, at)[0], codec.pack)
    if name in ("u128", "i128"):
        signed = name == "i128"
        return _fixed(name, 16, SBF_U128_ALIGN,
                      lambda data, at: int.from_bytes(data[at:at + 16], "little", signed=signed),
                      lambda value: int(value).to_bytes(16, "little", signed=signed))
    if name == "bool":
        return _fixed(name, 1, 1, _read_bool, lambda value: b"\x01" if value else b"\x00")
    if name == "pubkey":
        return _fixed(name, 32, 1, lambda data, at: str(Pubkey.from_bytes(data[at:at + 32])),
                      lambda value: bytes(Pubkey.from_string(str(value))))
    if name in ("string", "bytes"):
        return Layout(name, None, 1, _read_sized(name == "string"), _write_sized)
    raise IdlError(f"the IDL type {name!r} is none this decoder knows")


def _write_sized(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return len(raw).to_bytes(4, "little") + raw


def _read_bool(data: bytes, at: int) -> bool:
    if data[at] > 1:
        raise InvalidValue(f"a bool holds {data[at]} at byte {at}")
    return data[at] == 1


def _read_sized(text: bool) -> Callable[[bytes, int], tuple[Any, int]]:
    def read(data: bytes, at: int) -> tuple[Any, int]:
        length = int.from_bytes(data[at:at + 4], "little")
        raw = bytes(data[at + 4:at + 4 + length])
        return (raw.decode() if text else raw), at + 4 + length
    return read


class AnchorIdl:
    """One IDL file's accounts, laid out. Types are laid out once, when an account needs them."""

    def __init__(self, document: dict[str, Any]) -> None:
        metadata = document.get("metadata", {})
        if metadata.get("spec") != "0.1.0":
            raise IdlError(f"IDL spec {metadata.get('spec')!r}: this reads spec 0.1.0 "
                           "(Anchor >= 0.30); a legacy IDL goes through anchorpy")
        self.name: str = metadata.get("name", "")
        self.version: str = metadata.get("version", "")
        self.address: str = document.get("address", "")
        self._types = {t["name"]: t for t in document.get("types", [])}
        # Laid out by anchor_instructions.py, when asked for.
        self.instruction_documents: list[dict[str, Any]] = document.get("instructions", [])
        self._layouts: dict[str, Layout] = {}
        self._fields: dict[str, tuple[FieldLayout, ...]] = {}
        self.accounts = {account["name"]: self._account(account)
                         for account in document.get("accounts", [])}
        self.by_discriminator = {a.discriminator: a for a in self.accounts.values()}

    @classmethod
    def load(cls, path: Path) -> AnchorIdl:
        return cls(json.loads(path.read_text()))

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def kind_of(self, type_name: str) -> str:
        """"struct" or "enum" for a type the IDL defines, "" for a primitive or an array."""
        definition = self._types.get(type_name)
        return definition["type"]["kind"] if definition else ""

    def variants(self, type_name: str) -> list[str]:
        return [variant["name"] for variant in self._types[type_name]["type"]["variants"]]

    def struct_fields(self, type_name: str) -> tuple[FieldLayout, ...]:
        """A struct type's fields with their offsets, as laid out here."""
        self._defined(type_name)
        return self._fields[type_name]

    def _account(self, account: dict[str, Any]) -> AccountLayout:
        name = account["name"]
        return AccountLayout(name, bytes(account["discriminator"]), self._defined(name),
                             self._fields[name])

    def layout_of(self, ty: Any) -> Layout:
        """The layout of a type as the IDL writes one (`"u64"`, `{"option": ...}`, ...)."""
        return self._type(ty)

    def _type(self, ty: Any) -> Layout:
        if isinstance(ty, str):
            return _primitive(ty)
        if "array" in ty:
            item_type, count = ty["array"]
            if not isinstance(count, int):
                raise IdlError(f"an array of generic length {count!r}")
            return _array(self._type(item_type), count)
        if "defined" in ty:
            defined = ty["defined"]
            if defined.get("generics"):
                raise IdlError(f"generic type {defined['name']}")
            return self._defined(defined["name"])
        if "option" in ty:
            return _option(self._type(ty["option"]))
        if "vec" in ty:
            return _vec(self._type(ty["vec"]))
        raise IdlError(f"the IDL type {ty!r} is none this decoder knows")

    def _defined(self, name: str) -> Layout:
        if name in self._layouts:
            return self._layouts[name]
        definition = self._types.get(name)
        if definition is None:
            raise IdlError(f"the IDL names the type {name} and does not define it")
        if definition.get("generics"):
            raise IdlError(f"generic type {name}")
        kind = definition["type"]["kind"]
        if kind == "struct":
            layout = self._struct(definition)
        elif kind == "enum":
            layout = self._enum(definition)
        else:
            raise IdlError(f"type {name} is a {kind}, which this decoder does not lay out")
        self._layouts[name] = layout
        return layout

    def _struct(self, definition: dict[str, Any]) -> Layout:
        name = definition["name"]
        raw_fields = definition["type"].get("fields") or []
        named = [(f["name"], self._type(f["type"])) if isinstance(f, dict)
                 else (str(index), self._type(f)) for index, f in enumerate(raw_fields)]
        # Offsets are known up to the first field of variable size (and the size with them).
        fields: list[FieldLayout] = []
        size: int | None = 0
        for field_name, layout in named:
            if size is None or layout.size is None:
                size = None
                break
            fields.append(FieldLayout(field_name, layout.name, size, layout.size))
            size += layout.size
        align = max((layout.align for _, layout in named), default=1)
        zero_copy = definition.get("serialization", "borsh").startswith("bytemuck")
        if zero_copy or (definition.get("repr") or {}).get("kind") == "c":
            _check_c_layout(name, named, size)
        self._fields[name] = tuple(fields)
        names = [field_name for field_name, _ in named]
        readers = [layout.read for _, layout in named]
        writers = [layout.write for _, layout in named]

        def read(data: bytes, at: int) -> tuple[Any, int]:
            values = {}
            for field_name, reader in zip(names, readers, strict=True):
                values[field_name], at = reader(data, at)
            return values, at

        def write(values: dict[str, Any]) -> bytes:
            missing = set(names) - set(values)
            if missing:
                raise ValueError(f"{name} needs {sorted(missing)}")
            return b"".join(writer(values[field_name])
                            for field_name, writer in zip(names, writers, strict=True))
        return Layout(name, size, align, read, write)

    def _enum(self, definition: dict[str, Any]) -> Layout:
        name = definition["name"]
        variants = definition["type"]["variants"]
        if len(variants) > 256:
            raise IdlError(f"enum {name} has more variants than a u8 tag holds")
        shapes = []
        for variant in variants:
            fields = variant.get("fields") or []
            shapes.append((variant["name"], [
                (f["name"], self._type(f["type"])) if isinstance(f, dict)
                else (str(index), self._type(f)) for index, f in enumerate(fields)]))
        field_less = all(not fields for _, fields in shapes)

        def read(data: bytes, at: int) -> tuple[Any, int]:
            tag = data[at]
            if tag >= len(shapes):
                raise InvalidValue(f"{name} holds the tag {tag} at byte {at}; its variants are "
                                   f"0..{len(shapes) - 1}")
            variant, fields = shapes[tag]
            at += 1
            if not fields:
                return variant, at
            values = {}
            for field_name, layout in fields:
                values[field_name], at = layout.read(data, at)
            return {variant: values}, at

        tags = {variant: tag for tag, (variant, _) in enumerate(shapes)}

        def write(value: str | dict[str, dict[str, Any]]) -> bytes:
            variant = value if isinstance(value, str) else next(iter(value))
            if variant not in tags:
                raise ValueError(f"{name} has no variant {variant!r}")
            _, fields = shapes[tags[variant]]
            given = {} if isinstance(value, str) else value[variant]
            return bytes([tags[variant]]) + b"".join(
                layout.write(given[field_name]) for field_name, layout in fields)
        # A field-less enum is one byte (Drift's and Velocity's zero-copy enums all are);
        # one with data is borsh, variable.
        return Layout(name, 1 if field_less else None, 1, read, write)


def _array(item: Layout, count: int) -> Layout:
    name = f"[{item.name};{count}]"
    if item.name == "u8" and item.size == 1:
        return _fixed(name, count, 1, lambda data, at: bytes(data[at:at + count]),
                      lambda value: _exactly(bytes(value), count, name))
    size = item.size * count if item.size is not None else None

    def read(data: bytes, at: int) -> tuple[Any, int]:
        values = []
        for _ in range(count):
            value, at = item.read(data, at)
            values.append(value)
        return values, at

    def write(values: list[Any]) -> bytes:
        _exactly(values, count, name)
        return b"".join(item.write(value) for value in values)
    return Layout(name, size, item.align, read, write)


def _exactly(values: Any, count: int, name: str) -> Any:
    if len(values) != count:
        raise ValueError(f"{name} takes {count} items, given {len(values)}")
    return values


def _option(inner: Layout) -> Layout:
    def read(data: bytes, at: int) -> tuple[Any, int]:
        tag = data[at]
        if tag > 1:
            raise InvalidValue(f"an option holds the tag {tag} at byte {at}")
        return inner.read(data, at + 1) if tag else (None, at + 1)
    return Layout(f"Option<{inner.name}>", None, 1, read,
                  lambda value: b"\x00" if value is None else b"\x01" + inner.write(value))


def _vec(inner: Layout) -> Layout:
    def read(data: bytes, at: int) -> tuple[Any, int]:
        length = int.from_bytes(data[at:at + 4], "little")
        at += 4
        values = []
        for _ in range(length):
            value, at = inner.read(data, at)
            values.append(value)
        return values, at
    return Layout(f"Vec<{inner.name}>", None, 1, read,
                  lambda values: len(values).to_bytes(4, "little")
                  + b"".join(inner.write(value) for value in values))


def _check_c_layout(name: str, fields: list[tuple[str, Layout]], packed: int | None) -> None:
    """A repr(C) struct read in declaration order must need no padding the IDL leaves out."""
    if packed is None:
        raise IdlError(f"zero-copy struct {name} has a field of variable size")
    offset, align = 0, 1
    for field_name, layout in fields:
        assert layout.size is not None
        if offset % layout.align:
            raise IdlError(f"{name}.{field_name} would sit at {offset}, which repr(C) pads to "
                           f"a multiple of {layout.align}: the IDL leaves that padding out")
        offset += layout.size
        align = max(align, layout.align)
    if offset % align:
        raise IdlError(f"{name} is {offset} bytes, which repr(C) pads to a multiple of "
                       f"{align}: the IDL leaves that padding out")


class AnchorAccountsDecoder:
    """Decodes only buffers of its IDL's accounts, each exactly its IDL's size (a fork's account
    keeps its discriminator under another layout: only the size tells them apart)."""

    def __init__(self, idl: AnchorIdl) -> None:
        self.idl = idl

    def check(self, data: bytes) -> AccountLayout:
        account = self.idl.by_discriminator.get(bytes(data[:DISCRIMINATOR_SIZE]))
        # A borsh account of variable size is checked only by decoding it (weaker: Anchor
        # allocates such accounts with room to spare).
        size = (LayoutSize(account.size, fixed=True)
                if account is not None and account.size is not None else None)
        require_layout(data, account.name if account else None, size, self.idl.label)
        assert account is not None
        return account

    def decode_as(self, name: str, data: bytes) -> dict[str, Any]:
        """decode() of an account that must be `name` (a market's address holding another of
        the IDL's accounts is refused as another layout would be)."""
        decoded = self.decode(data)
        if decoded.name != name:
            raise AccountLayoutError(f"a {decoded.name} account where a {name} was expected",
                                     account=decoded.name, expected=None, actual=len(data))
        return decoded.values

    def encode(self, name: str, values: dict[str, Any]) -> bytes:
        """The account's bytes, discriminator first: what the venue stand-in serves."""
        account = self.idl.accounts[name]
        return account.discriminator + account.layout.write(values)

    def blank(self, name: str) -> dict[str, Any]:
        """The account's values with every byte zero (the first variant of each enum)."""
        account = self.idl.accounts[name]
        if account.size is None:
            raise ValueError(f"{name} has no fixed size to be blank in")
        return self.decode(account.discriminator + bytes(account.size - DISCRIMINATOR_SIZE)
                           ).values

    def decode(self, data: bytes) -> DecodedAccount:
        account = self.check(data)
        try:
            values, _ = account.layout.read(bytes(data), DISCRIMINATOR_SIZE)
        except (InvalidValue, IndexError, struct.error) as invalid:
            raise AccountLayoutError(
                f"the {account.name} account holds a value its IDL ({self.idl.label}) does not "
                f"allow ({invalid}): the RPC serves another program's layout",
                account=account.name, expected=account.size, actual=len(data)) from None
        return DecodedAccount(account.name, values)


def without_docs(document: Any) -> Any:
    """The IDL with every `docs` list left out: what the repository vendors (the layout and the
    discriminators are all there; the prose stays with the recorded copy under data/)."""
    if isinstance(document, dict):
        return {key: without_docs(value) for key, value in document.items() if key != "docs"}
    if isinstance(document, list):
        return [without_docs(item) for item in document]
    return document
