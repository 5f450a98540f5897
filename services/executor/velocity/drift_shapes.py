"""Velocity's accounts in the shapes of driftpy's types, so the live driver's Drift math (driftpy's
margin engine, the fill and funding reads) runs on Velocity's values.

Velocity is a fork of Drift v2 that kept Drift's margin engine (velocity-v1
`programs/drift/src/math/margin.rs`: the same size premium, unrealized-PnL weights and funding
payment) but moved the fields it reads: a PerpMarket's funding and open-interest totals left
the AMM for the account itself, its TWAPs and oracle history went into `market_stats`, the
minimum order size with them. Each driftpy field is therefore looked up by name (underscores
ignored) where Velocity keeps it: in the same-named Velocity struct first, then in the account
and the structs Velocity spread Drift's into. A driftpy field Velocity dropped (LP shares, fuel
boosts, the high-leverage mode, `margin_mode`) is zero or the enum's first variant, which is
what each meant while unused on Drift.

Enums: Velocity's MarketStatus has no paused statuses; a market Active with a paused operation
is given Drift's status for it (UpdateFunding: FundingPaused, AmmFill: AmmPaused, Fill:
FillPaused), so the driver's market rules treat the two venues alike. Variants Velocity renamed
`Deprecated...` keep their Drift names.

Not modelled (Velocity additions to the engine): the collateral circuit breaker's discount on
non-quote spot deposits, pool ids, equity floors. A carry account holds the quote and perps.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from driftpy import types as drift_types
from solders.pubkey import Pubkey

from services.common.exchange_status import PerpOperation

# Where Velocity spread the fields of a Drift struct (searched after the same-named struct).
SPREAD_INTO = ("market_stats", "fee_ledger", "amm")
SPREAD_KEYS = tuple(name.replace("_", "") for name in SPREAD_INTO)
PAUSED_STATUS_BY_OPERATION = (  # the first paused operation names the status
    (PerpOperation.FILL, "FillPaused"),
    (PerpOperation.AMM_FILL, "AmmPaused"),
    (PerpOperation.UPDATE_FUNDING, "FundingPaused"),
)


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def drift_perp_market(values: dict[str, Any]) -> drift_types.PerpMarketAccount:
    market = shape(drift_types.PerpMarketAccount, [values])
    if market.status.__class__.__name__ == "Active":
        for bit, status in PAUSED_STATUS_BY_OPERATION:
            if values["paused_operations"] & bit:
                market.status = getattr(drift_types.MarketStatus, status)()
                break
    return market


def drift_spot_market(values: dict[str, Any]) -> drift_types.SpotMarketAccount:
    return shape(drift_types.SpotMarketAccount, [values])


def drift_user(values: dict[str, Any]) -> drift_types.UserAccount:
    return shape(drift_types.UserAccount, [values])


def drift_state(values: dict[str, Any]) -> drift_types.StateAccount:
    return shape(drift_types.StateAccount, [values])


def shape(cls: type, sources: list[dict[str, Any]]) -> Any:
    """An instance of driftpy's dataclass `cls`, each field found by name in `sources`."""
    return _shape(cls, [_index(source) for source in sources])


@dataclass(frozen=True)
class _Field:
    name: str
    key: str      # the name compared: lower case, no underscores
    kind: str     # struct, list, pubkey, enum, bool, int, other
    inner: Any    # the struct's class, the list item's hint, the enum


@cache
def _fields(cls: type) -> tuple[_Field, ...]:
    """How each field of `cls` is filled: worked out once per class (a User has 32 orders)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return tuple(_field(name, _unwrap_optional(hint))
                 for name, hint in typing.get_type_hints(cls).items() if name in names)


def _field(name: str, hint: Any) -> _Field:
    if dataclasses.is_dataclass(hint):
        return _Field(name, _key(name), "struct", hint)
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (int,)
        return _Field(name, _key(name), "list", _unwrap_optional(item))
    if hint is Pubkey:
        return _Field(name, _key(name), "pubkey", None)
    if _is_rust_enum(hint):
        return _Field(name, _key(name), "enum", hint)
    kind = "bool" if hint is bool else "int" if hint is int else "other"
    return _Field(name, _key(name), kind, None)


def _index(source: dict[str, Any]) -> dict[str, Any]:
    return {_key(key): value for key, value in source.items()}


def _shape(cls: type, indexes: list[dict[str, Any]]) -> Any:
    values = {}
    for field in _fields(cls):
        found = next((index[field.key] for index in indexes if field.key in index), None)
        values[field.name] = _convert(field, found, indexes)
    return cls(**values)


def _convert(field: _Field, found: Any, indexes: list[dict[str, Any]]) -> Any:
    if field.kind == "struct":
        inner = [_index(found)] if isinstance(found, dict) else []
        spread = [_index(index[key]) for index in indexes for key in SPREAD_KEYS
                  if isinstance(index.get(key), dict)]
        return _shape(field.inner, [*inner, *indexes, *spread])
    if field.kind == "list":
        if found is None:
            return []
        if isinstance(found, bytes | bytearray):
            return list(found)
        item = field.inner
        if dataclasses.is_dataclass(item):
            return [_shape(item, [_index(each)]) for each in found]
        return list(found)
    if field.kind == "pubkey":
        return Pubkey.from_string(found) if isinstance(found, str) else Pubkey.default()
    if field.kind == "enum":
        return _variant(field.inner, found)
    if field.kind == "bool":
        return bool(found)
    if field.kind == "int":
        return found if isinstance(found, int) else 0
    return found


def _unwrap_optional(hint: Any) -> Any:
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) in (typing.Union, getattr(typing, "UnionType", None)) and \
            len(args) == 1:
        return args[0]
    return hint


def _is_rust_enum(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "_sumtype_constructor_names")


def _variant_names(enum: Any) -> list[str]:
    return list(enum._sumtype_constructor_names)  # declaration order, as the IDL's tags


def _variant(enum: Any, found: Any) -> Any:
    """Velocity's variant (a name, or {name: fields}) as driftpy's; the first one when absent."""
    name = next(iter(found)) if isinstance(found, dict) else found
    if isinstance(name, str):
        name = name.removeprefix("Deprecated")
    names = {_key(each): each for each in _variant_names(enum)}  # AssetTier's are upper case
    chosen = names.get(_key(name)) if isinstance(name, str) else None
    return getattr(enum, chosen or _variant_names(enum)[0])()
