"""Recorded Drift v2 PerpMarket accounts, decoded with driftpy's bundled IDL.

Everything Drift-specific about the snapshots lives here: the IDL, the precisions and the field
names. The rest of the feed sees `PerpMarketSnapshot`, in plain units (USD, base units, fractions).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import driftpy
from anchorpy import Idl
from driftpy.constants.numeric_constants import (
    BASE_PRECISION,
    FUNDING_RATE_PRECISION,
    MARGIN_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)

from services.common.account_layouts import StrictAccountsCoder

SNAPSHOTS_FILE = Path("drift") / "mainnet_account_snapshots.json"
PERP_MARKET_KIND = "PerpMarket"
# protocol-v2 programs/drift/src/state/paused_operations.rs: PerpOperation::UpdateFunding = 0b1.
# driftpy has no constant for the bit mask, so it is spelled out here.
PERP_OPERATION_UPDATE_FUNDING = 0b0000_0001


class SnapshotError(RuntimeError):
    """The recorded accounts file is missing or does not decode."""


@dataclass(frozen=True)
class PerpMarketSnapshot:
    """One perp market as its recorded account shows it, scaled out of Drift's precisions."""

    symbol: str
    market_index: int
    status: str                       # lowercase snake: "active", "funding_paused", ...
    contract_type: str                # "perpetual", "prediction", "future"
    contract_tier: str                # lowercase snake: "a", "b", "speculative", ...
    funding_update_paused: bool       # paused_operations has the UpdateFunding bit
    hourly_rate: Decimal              # last settled hourly rate, fraction of the oracle TWAP
    last_funding_at: datetime         # when that rate settled on chain
    oracle_price: Decimal             # USD
    oracle_twap: Decimal              # USD
    mark_twap: Decimal                # USD
    base_long: Decimal                # base units, >= 0
    base_short: Decimal               # base units, <= 0 (Drift stores shorts negative)
    volume_24h: Decimal               # USD
    margin_ratio_initial: Decimal     # fraction
    margin_ratio_maintenance: Decimal  # fraction
    last_update_slot: int
    oracle_twap_at: datetime          # when the oracle TWAP was last updated
    source: str                       # where the buffer was recorded: repo@commit path:line

    @property
    def open_interest_base(self) -> Decimal:
        """Both sides, in base units: long base plus the magnitude of short base."""
        return self.base_long + abs(self.base_short)


@cache
def drift_accounts_coder() -> StrictAccountsCoder:
    """driftpy's IDL, refusing a buffer of another size or discriminator (another layout)."""
    idl_path = Path(driftpy.__file__).parent / "idl" / "drift.json"
    return StrictAccountsCoder(Idl.from_json(idl_path.read_text()))


def snake_case(name: str) -> str:
    """"FundingPaused" -> "funding_paused", "HighlySpeculative" -> "highly_speculative"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _snake(enum_value: Any) -> str:
    """MarketStatus.FundingPaused() -> "funding_paused" (anchorpy enums are classes by name)."""
    return snake_case(type(enum_value).__name__)


def hourly_rate_fraction(last_funding_rate: int, oracle_twap_raw: int) -> Decimal:
    """Drift's hourly rate as a fraction of price: (rate / 1e9) / (oracle TWAP / 1e6)."""
    if oracle_twap_raw <= 0 or last_funding_rate == 0:
        return Decimal(0)
    rate_quote_per_base = Decimal(last_funding_rate) / Decimal(FUNDING_RATE_PRECISION)
    return rate_quote_per_base / (Decimal(oracle_twap_raw) / Decimal(PRICE_PRECISION))


def perp_market_snapshot(market: Any, source: str = "") -> PerpMarketSnapshot:
    """A decoded PerpMarket account (driftpy's types, as anchorpy decodes them), scaled with
    driftpy's precisions. The replay and the live source both read markets through this."""
    amm = market.amm
    oracle = amm.historical_oracle_data
    return PerpMarketSnapshot(
        symbol=bytes(market.name).decode("utf-8", errors="replace").strip(),
        market_index=int(market.market_index),
        status=_snake(market.status),
        contract_type=_snake(market.contract_type),
        contract_tier=_snake(market.contract_tier),
        funding_update_paused=bool(market.paused_operations & PERP_OPERATION_UPDATE_FUNDING),
        hourly_rate=hourly_rate_fraction(amm.last_funding_rate, oracle.last_oracle_price_twap),
        last_funding_at=datetime.fromtimestamp(amm.last_funding_rate_ts, UTC),
        oracle_price=Decimal(oracle.last_oracle_price) / PRICE_PRECISION,
        oracle_twap=Decimal(oracle.last_oracle_price_twap) / PRICE_PRECISION,
        mark_twap=Decimal(amm.last_mark_price_twap) / PRICE_PRECISION,
        base_long=Decimal(amm.base_asset_amount_long) / BASE_PRECISION,
        base_short=Decimal(amm.base_asset_amount_short) / BASE_PRECISION,
        volume_24h=Decimal(amm.volume24h) / QUOTE_PRECISION,
        margin_ratio_initial=Decimal(market.margin_ratio_initial) / MARGIN_PRECISION,
        margin_ratio_maintenance=Decimal(market.margin_ratio_maintenance) / MARGIN_PRECISION,
        last_update_slot=int(amm.last_update_slot),
        oracle_twap_at=datetime.fromtimestamp(oracle.last_oracle_price_twap_ts, UTC),
        source=source,
    )


def decode_perp_market(buffer: bytes, source: str = "") -> PerpMarketSnapshot:
    """Decodes one PerpMarket account (with its 8-byte discriminator)."""
    return perp_market_snapshot(drift_accounts_coder().decode(buffer), source)


def _recency(snapshot: PerpMarketSnapshot) -> tuple[int, datetime]:
    return (snapshot.last_update_slot, snapshot.oracle_twap_at)


def load_latest_perp_markets(data_dir: Path) -> dict[str, PerpMarketSnapshot]:
    """Every PerpMarket record of the snapshots file, the latest one per market index.

    Latest = highest amm.last_update_slot; two recorded TRUMP-WIN accounts share a slot, so the
    later oracle TWAP timestamp breaks the tie (it moved from reduce-only into settlement).
    """
    path = data_dir / SNAPSHOTS_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SnapshotError(f"recorded accounts not found at {path}; set DNE_DATA_DIR") from None
    except (OSError, ValueError) as error:
        raise SnapshotError(f"cannot read recorded accounts {path}: {error}") from error
    latest: dict[int, PerpMarketSnapshot] = {}
    for number, record in enumerate(document.get("accounts", [])):
        if record.get("kind") != PERP_MARKET_KIND or "base64" not in record:
            continue
        origin = record.get("source") or {}
        source = (
            f"{origin.get('repo', '?')}@{str(origin.get('commit', '?'))[:8]} "
            f"{origin.get('path', '?')}:{origin.get('line', '?')}"
        )
        try:
            snapshot = decode_perp_market(base64.b64decode(record["base64"]), source)
        except Exception as error:
            raise SnapshotError(f"account {number} of {path} does not decode: {error}") from error
        held = latest.get(snapshot.market_index)
        if held is None or _recency(snapshot) > _recency(held):
            latest[snapshot.market_index] = snapshot
    if not latest:
        raise SnapshotError(f"no PerpMarket account in {path}")
    return {snapshot.symbol: snapshot for snapshot in latest.values()}
