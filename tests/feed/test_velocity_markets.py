"""The feed reads a Velocity PerpMarket (its own layout, decoded from its IDL) as the same market
facts Drift's account gave: the 16 recorded Drift markets, re-encoded into Velocity's layout,
read back with the same rate, prices, open interest, margins and status, except where Velocity
itself differs (no FundingPaused status: a paused operation; "Prediction" renamed)."""

from __future__ import annotations

import base64
import json
from dataclasses import fields, replace
from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from services.common.account_layouts import AccountLayoutError
from services.feed.drift_accounts import (
    SNAPSHOTS_FILE,
    PerpMarketSnapshot,
    decode_perp_market,
    drift_accounts_coder,
)
from services.feed.market_table import not_tradable_reason
from services.feed.settings import DEFAULT_DATA_DIR
from services.feed.velocity_accounts import decode_velocity_perp_market, velocity_decoder
from services.venue_sim.velocity_markets import LABEL, DriftToVelocity, reencoded_perp_markets
from tests.kit.foreign_layouts import recorded_accounts

RECORDED = [base64.b64decode(r["base64"])
            for r in json.loads((DEFAULT_DATA_DIR / SNAPSHOTS_FILE).read_text())["accounts"]
            if r["kind"] == "PerpMarket"]
REENCODED = reencoded_perp_markets(DEFAULT_DATA_DIR)


def as_velocity_states_it(drift: PerpMarketSnapshot) -> PerpMarketSnapshot:
    """Drift's snapshot in Velocity's terms: where Velocity's enums say the same thing
    another way."""
    if drift.status == "funding_paused":
        drift = replace(drift, status="active", funding_update_paused=True)
    if drift.contract_type == "prediction":
        drift = replace(drift, contract_type="deprecated_prediction")
    return drift


def test_every_recorded_market_reads_back_from_velocity_s_layout_with_the_same_facts() -> None:
    assert len(REENCODED) == len(RECORDED) == 16
    for (buffer, source), recorded in zip(REENCODED, RECORDED, strict=True):
        velocity = decode_velocity_perp_market(buffer, source)
        drift = as_velocity_states_it(decode_perp_market(recorded, source))
        for field in fields(PerpMarketSnapshot):
            assert getattr(velocity, field.name) == getattr(drift, field.name), (
                velocity.symbol, field.name)
        assert bool(not_tradable_reason(velocity)) == bool(not_tradable_reason(drift))
        assert source.startswith(LABEL)


def test_the_funding_facts_are_read_where_velocity_moved_them() -> None:
    sol = next(decode_velocity_perp_market(buffer) for buffer, _ in REENCODED
               if decode_velocity_perp_market(buffer).symbol == "SOL-PERP")
    # The SOL-PERP account of 2026-03-09: -1.16e-5 an hour, as data/PROVENANCE.md states it.
    assert round(sol.hourly_rate, 7) == Decimal("-0.0000116") and sol.status == "active"
    decoder = velocity_decoder()
    values = decoder.decode(next(b for b, _ in REENCODED
                                 if decode_velocity_perp_market(b).symbol == "SOL-PERP")).values
    assert values["last_funding_rate"] != 0 and "last_funding_rate" not in values["amm"]
    assert values["market_stats"]["historical_oracle_data"]["last_oracle_price"] == 85_016_475


def test_a_funding_pause_is_a_paused_operation_in_velocity_not_a_status() -> None:
    paused = [decode_velocity_perp_market(buffer) for buffer, _ in REENCODED
              if decode_velocity_perp_market(buffer).symbol == "1MBONK-PERP"]
    assert paused and all(m.status == "active" and m.funding_update_paused for m in paused)
    assert all("paused" in not_tradable_reason(m) for m in paused)


def test_velocity_s_reduce_only_is_its_tag_2_which_drift_calls_funding_paused() -> None:
    decoder = velocity_decoder()
    buffer, _ = REENCODED[-1]
    values = decoder.decode(buffer).values
    values["status"] = "ReduceOnly"
    encoded = decoder.encode("PerpMarket", values)
    status_at = 8 + decoder.idl.accounts["PerpMarket"].field("status").offset
    assert encoded[status_at] == 2
    assert decode_velocity_perp_market(encoded).status == "reduce_only"


def test_each_decoder_refuses_the_other_venue_s_market() -> None:
    for (velocity, _), drift in zip(REENCODED, RECORDED, strict=True):
        with pytest.raises(AccountLayoutError, match="1304"):
            decode_velocity_perp_market(drift)
        with pytest.raises(AccountLayoutError, match="1216"):
            drift_accounts_coder().decode(velocity)


USER_FIELDS = ("authority", "delegate", "name", "sub_account_id", "total_deposits",
               "total_withdraws", "total_social_loss", "settled_perp_pnl",
               "cumulative_spot_fees", "cumulative_perp_funding", "next_order_id",
               "max_margin_ratio", "next_liquidation_id", "open_orders", "has_open_order")
PERP_POSITION_FIELDS = ("market_index", "base_asset_amount", "quote_asset_amount",
                        "quote_entry_amount", "quote_break_even_amount", "settled_pnl",
                        "open_orders", "open_bids", "open_asks", "last_cumulative_funding_rate")
SPOT_POSITION_FIELDS = ("scaled_balance", "market_index", "open_orders", "open_bids",
                        "open_asks", "cumulative_deposits")
ORDER_FIELDS = ("slot", "price", "base_asset_amount", "base_asset_amount_filled",
                "quote_asset_amount_filled", "trigger_price", "max_ts", "order_id",
                "market_index", "user_order_id", "reduce_only", "post_only",
                "oracle_price_offset", "auction_duration")


def same(velocity: dict, drift: object, names: tuple[str, ...], where: str) -> None:
    for name in names:
        recorded = getattr(drift, name)
        if isinstance(recorded, Pubkey):
            recorded = str(recorded)
        elif isinstance(recorded, list):
            recorded = bytes(recorded)
        assert velocity[name] == recorded, (where, name)


def test_every_recorded_user_keeps_its_positions_and_orders_in_velocity_s_layout() -> None:
    # 93 real mainnet Users (90 of December 2023, 3 in the snapshots): their positions and
    # orders written in Velocity's layout (PerpPosition 80 bytes, Order 104 with an i64 price
    # offset) and read back by Velocity's decoder.
    decoder = velocity_decoder()
    converter = DriftToVelocity(decoder.idl, decoder)
    users = [a for a in recorded_accounts() if a.kind == "User"]
    assert len(users) == 93
    held = recorded_held = 0
    for user in users:
        drift = drift_accounts_coder().decode(user.data)
        encoded = decoder.encode("User", converter.values("User", drift))
        assert len(encoded) == 4496
        velocity = decoder.decode(encoded).values
        same(velocity, drift, USER_FIELDS, user.where)
        for mine, theirs in zip(velocity["perp_positions"], drift.perp_positions, strict=True):
            same(mine, theirs, PERP_POSITION_FIELDS, user.where)
            held += mine["base_asset_amount"] != 0
            recorded_held += theirs.base_asset_amount != 0
        for mine, theirs in zip(velocity["spot_positions"], drift.spot_positions, strict=True):
            same(mine, theirs, SPOT_POSITION_FIELDS, user.where)
            assert mine["balance_type"] == type(theirs.balance_type).__name__
        for mine, theirs in zip(velocity["orders"], drift.orders, strict=True):
            same(mine, theirs, ORDER_FIELDS, user.where)
            assert (mine["status"], mine["direction"]) == (
                type(theirs.status).__name__, type(theirs.direction).__name__)
    assert held == recorded_held > 0   # every held position came through
