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
from functools import cache
from typing import Any

from driftpy import types as drift_types
from solders.pubkey import Pubkey

from services.common.exchange_status import PerpOperation

# Where Velocity spread the fields of a Drift struct (searched after the same-named struct).
SPREAD_INTO = ("market_stats", "fee_ledger", "amm")
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
    values = {}
    for name, hint in _hints(cls).items():
        found = _find(name, sources)
        values[name] = _convert(hint, found, sources)
    return cls(**values)


@cache
def _hints(cls: type) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {name: hint for name, hint in typing.get_type_hints(cls).items() if name in names}


def _find(name: str, sources: list[dict[str, Any]]) -> Any:
    for source in sources:
        for key, value in source.items():
            if _key(key) == _key(name):
                return value
    return None


def _convert(hint: Any, found: Any, sources: list[dict[str, Any]]) -> Any:
    hint = _unwrap_optional(hint)
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        inner = [found] if isinstance(found, dict) else []
        spread = [s[key] for s in sources for key in SPREAD_INTO if isinstance(s.get(key), dict)]
        return shape(hint, [*inner, *sources, *spread])
    if origin is list:
        (item,) = typing.get_args(hint) or (int,)
        if found is None:
            return []
        if isinstance(found, bytes | bytearray):
            return list(found)
        return [_convert(item, each, [each] if isinstance(each, dict) else []) for each in found]
    if hint is Pubkey:
        return Pubkey.from_string(found) if isinstance(found, str) else Pubkey.default()
    if _is_rust_enum(hint):
        return _variant(hint, found)
    if hint is bool:
        return bool(found)
    if hint is int:
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
