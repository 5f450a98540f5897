"""The recorded Drift markets (perp, and spot) re-encoded into Velocity's layout.

No Velocity account was ever recorded (data/velocity/README.md), so where Velocity must be shown
with real numbers, the recorded Drift PerpMarkets are written in Velocity's layout: every field
Velocity has and Drift had carries the recorded value (found by name wherever Velocity moved it:
the funding fields out of the AMM, the TWAPs and oracle history into `market_stats`), and every
Velocity-only field is zero. A snapshot made from one says so in its source. These are Drift's
numbers in Velocity's form, not Velocity's market.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from services.common.anchor_idl import AnchorAccountsDecoder, AnchorIdl
from services.feed.drift_accounts import (
    PERP_MARKET_KIND,
    PERP_OPERATION_UPDATE_FUNDING,
    SNAPSHOTS_FILE,
    drift_accounts_coder,
)
from services.feed.velocity_accounts import PERP_MARKET, velocity_decoder

SPOT_MARKET = "SpotMarket"
SPOT_MARKET_KIND = "SpotMarket"

LABEL = "recorded Drift values re-encoded into Velocity's layout"
# Drift's statuses that Velocity states as a paused operation instead (its MarketStatus has no
# such variant): the market is Active with that operation's bit set.
PAUSES_AS_OPERATIONS = {"FundingPaused": PERP_OPERATION_UPDATE_FUNDING}
# Variants Velocity renamed (same index, the old meaning kept).
# Structs of Drift's that Velocity emptied into the account itself (PerpMarket's AMM held the
# funding, open interest, TWAPs and oracle history): their fields are looked for there too.
EMPTIED_INTO_THE_ACCOUNT = ("amm",)
RENAMED_VARIANTS = {"Future": "DeprecatedFuture", "Prediction": "DeprecatedPrediction",
                    "Switchboard": "DeprecatedSwitchboard",
                    "SwitchboardOnDemand": "DeprecatedSwitchboardOnDemand"}


_ARRAY = re.compile(r"^\[(?P<item>\w+);(?P<count>\d+)\]$")


def _key(name: str) -> str:
    """Names compared without underscores: Drift's `volume24h` is Velocity's `volume_24h`."""
    return name.replace("_", "").lower()


def _find(name: str, sources: list[Any]) -> Any:
    for source in sources:
        for attribute in dir(source):
            if not attribute.startswith("_") and _key(attribute) == _key(name):
                return getattr(source, attribute)
    return None


class DriftToVelocity:
    """Writes a driftpy-decoded account as the same-named Velocity account's values."""

    def __init__(self, idl: AnchorIdl, decoder: AnchorAccountsDecoder) -> None:
        self._idl = idl
        self._decoder = decoder

    def values(self, account: str, drift: Any) -> dict[str, Any]:
        values = self._decoder.blank(account)
        emptied = [getattr(drift, name) for name in EMPTIED_INTO_THE_ACCOUNT
                   if hasattr(drift, name)]
        self._fill(account, values, [drift, *emptied])
        status = type(getattr(drift, "status", None)).__name__
        if account == PERP_MARKET and status in PAUSES_AS_OPERATIONS:
            values["status"] = "Active"
            values["paused_operations"] |= PAUSES_AS_OPERATIONS[status]
        return values

    def _fill(self, type_name: str, values: dict[str, Any], sources: list[Any]) -> None:
        for field in self._idl.struct_fields(type_name):
            found = _find(field.name, sources)
            kind = self._idl.kind_of(field.type_name)
            if kind == "struct":
                # A struct Velocity added gathers fields Drift kept elsewhere: look in the
                # same places. One Drift had is read from Drift's.
                inner = [found] if found is not None else sources
                self._fill(field.type_name, values[field.name], inner)
            elif found is None:
                continue
            elif isinstance(values[field.name], list):
                self._fill_items(field.type_name, values[field.name], list(found))
            elif kind == "enum":
                variant = type(found).__name__
                variant = RENAMED_VARIANTS.get(variant, variant)
                if variant in self._idl.variants(field.type_name):
                    values[field.name] = variant
            elif isinstance(values[field.name], bytes):
                raw = bytes(found)
                if len(raw) == len(values[field.name]):
                    values[field.name] = raw
            elif isinstance(values[field.name], bool):
                values[field.name] = bool(found)
            elif isinstance(values[field.name], int) and isinstance(found, int):
                values[field.name] = found
            elif field.type_name == "pubkey":
                values[field.name] = str(found)


    def _fill_items(self, type_name: str, items: list[Any], found: list[Any]) -> None:
        """An array of structs (a User's positions and orders), item by item."""
        array = _ARRAY.match(type_name)
        if array is None or len(found) != len(items):
            return
        item_type = array["item"]
        for index, drift_item in enumerate(found):
            if self._idl.kind_of(item_type) == "struct":
                self._fill(item_type, items[index], [drift_item])
            elif isinstance(items[index], int) and isinstance(drift_item, int):
                items[index] = drift_item


def reencoded_perp_markets(data_dir: Path) -> list[tuple[bytes, str]]:
    """Every recorded Drift PerpMarket as a Velocity PerpMarket account, with its source."""
    document = json.loads((data_dir / SNAPSHOTS_FILE).read_text())
    converter = DriftToVelocity(velocity_decoder().idl, velocity_decoder())
    accounts = []
    for number, record in enumerate(document["accounts"]):
        if record.get("kind") != PERP_MARKET_KIND:
            continue
        drift = drift_accounts_coder().decode(base64.b64decode(record["base64"]))
        buffer = velocity_decoder().encode(PERP_MARKET, converter.values(PERP_MARKET, drift))
        origin = record.get("source") or {}
        accounts.append((buffer, f"{LABEL}: {origin.get('repo', '?')}@"
                                 f"{str(origin.get('commit', '?'))[:8]} record {number}"))
    return accounts


def velocity_spot_market_values(drift: Any, mint: str | None = None) -> dict[str, Any]:
    """A driftpy-decoded SpotMarket as Velocity's SpotMarket values; `mint` replaces the
    recorded one (the quote market of a venue whose quote is not the recorded USDC)."""
    values = DriftToVelocity(velocity_decoder().idl, velocity_decoder()).values(SPOT_MARKET,
                                                                               drift)
    if mint is not None:
        values["mint"] = mint
    return values


def reencoded_spot_markets(data_dir: Path, quote_mint: str, quote_index: int = 0,
                           indexes: tuple[int, ...] = (0, 1)) -> list[tuple[bytes, str]]:
    """The recorded Drift SpotMarkets of `indexes` (the quote and SOL) as Velocity SpotMarket
    accounts, the quote market's mint set to `quote_mint`, with their sources."""
    document = json.loads((data_dir / SNAPSHOTS_FILE).read_text())
    accounts = []
    for number, record in enumerate(document["accounts"]):
        if record.get("kind") != SPOT_MARKET_KIND:
            continue
        drift = drift_accounts_coder().decode(base64.b64decode(record["base64"]))
        if drift.market_index not in indexes:
            continue
        mint = quote_mint if drift.market_index == quote_index else None
        buffer = velocity_decoder().encode(SPOT_MARKET, velocity_spot_market_values(drift, mint))
        origin = record.get("source") or {}
        accounts.append((buffer, f"{LABEL}: {origin.get('repo', '?')}@"
                                 f"{str(origin.get('commit', '?'))[:8]} record {number}"))
    return accounts
