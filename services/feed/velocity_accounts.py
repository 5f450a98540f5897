"""Velocity PerpMarket accounts, decoded with Velocity's own IDL (config/venues/idl/velocity.json,
through services/common/anchor_idl.py), as the same `PerpMarketSnapshot` the rest of the feed
reads Drift's markets as.

Where Velocity differs from Drift, this says so: the funding and open-interest fields sit at the
top of the account instead of inside the AMM, the TWAPs and oracle history in `market_stats`;
MarketStatus has no FundingPaused (a paused funding update is the `paused_operations` bit only);
the quote is USDT. The precisions are the ones the IDL's doc comments name (FUNDING_RATE_PRECISION,
PRICE_PRECISION, ...), which Velocity keeps from Drift.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from driftpy.constants.numeric_constants import (
    BASE_PRECISION,
    MARGIN_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)

from services.common.anchor_idl import AnchorAccountsDecoder, AnchorIdl
from services.common.venue_profile import load_profile
from services.feed.drift_accounts import (
    PERP_OPERATION_UPDATE_FUNDING,
    PerpMarketSnapshot,
    hourly_rate_fraction,
    snake_case,
)

PERP_MARKET = "PerpMarket"


@cache
def velocity_decoder() -> AnchorAccountsDecoder:
    """The velocity profile's IDL (config/venues/velocity.toml names it)."""
    return AnchorAccountsDecoder(AnchorIdl(json.loads(load_profile("velocity").idl_json())))


def velocity_perp_market_snapshot(market: dict[str, Any], source: str = "") -> PerpMarketSnapshot:
    """A decoded Velocity PerpMarket (anchor_idl's values), scaled out of its precisions."""
    stats = market["market_stats"]
    oracle = stats["historical_oracle_data"]
    return PerpMarketSnapshot(
        symbol=bytes(market["name"]).decode("utf-8", errors="replace").strip("\x00 "),
        market_index=market["market_index"],
        status=snake_case(market["status"]),
        contract_type=snake_case(market["contract_type"]),
        contract_tier=snake_case(market["contract_tier"]),
        funding_update_paused=bool(market["paused_operations"] & PERP_OPERATION_UPDATE_FUNDING),
        hourly_rate=hourly_rate_fraction(market["last_funding_rate"],
                                         oracle["last_oracle_price_twap"]),
        last_funding_at=datetime.fromtimestamp(market["last_funding_rate_ts"], UTC),
        oracle_price=Decimal(oracle["last_oracle_price"]) / PRICE_PRECISION,
        oracle_twap=Decimal(oracle["last_oracle_price_twap"]) / PRICE_PRECISION,
        mark_twap=Decimal(stats["last_mark_price_twap"]) / PRICE_PRECISION,
        base_long=Decimal(market["base_asset_amount_long"]) / BASE_PRECISION,
        base_short=Decimal(market["base_asset_amount_short"]) / BASE_PRECISION,
        volume_24h=Decimal(stats["volume_24h"]) / QUOTE_PRECISION,
        margin_ratio_initial=Decimal(market["margin_ratio_initial"]) / MARGIN_PRECISION,
        margin_ratio_maintenance=Decimal(market["margin_ratio_maintenance"]) / MARGIN_PRECISION,
        last_update_slot=market["amm"]["last_update_slot"],
        oracle_twap_at=datetime.fromtimestamp(oracle["last_oracle_price_twap_ts"], UTC),
        source=source,
    )


def decode_velocity_perp_market(buffer: bytes, source: str = "") -> PerpMarketSnapshot:
    """One Velocity PerpMarket account (with its discriminator); any other account, or a
    Drift-sized one, is refused (AccountLayoutError)."""
    return velocity_perp_market_snapshot(velocity_decoder().decode_as(PERP_MARKET, buffer),
                                         source)
