"""Velocity's accounts laid out from its own IDL (services/common/anchor_idl.py), checked against
known answers: the offsets data/velocity/layout_diff.json derived independently, the offsets
Velocity's doc comments state, and known values written at those offsets and decoded back. A
Drift account is refused by the Velocity decoder, and a Velocity account by Drift's."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import driftpy
import pytest
from anchorpy import Idl
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from services.common.account_layouts import AccountLayoutError, StrictAccountsCoder
from services.common.anchor_idl import (
    DISCRIMINATOR_SIZE,
    AnchorAccountsDecoder,
    AnchorIdl,
    IdlError,
    without_docs,
)
from services.common.venue_profile import PROFILE_DIR
from services.feed.settings import DEFAULT_DATA_DIR
from tests.kit.foreign_layouts import recorded_accounts

RECORDED = DEFAULT_DATA_DIR / "velocity" / "velocity_idl.json"
VENDORED = PROFILE_DIR / "idl" / "velocity.json"
LAYOUT_DIFF = json.loads((DEFAULT_DATA_DIR / "velocity" / "layout_diff.json").read_text())
IDL = AnchorIdl.load(VENDORED)
VELOCITY = AnchorAccountsDecoder(IDL)
DRIFT = StrictAccountsCoder(Idl.from_json(
    (Path(driftpy.__file__).parent / "idl" / "drift.json").read_text()))
SOL_MARKET = Pubkey.from_string("So11111111111111111111111111111111111111112")


def test_the_vendored_idl_is_the_recorded_one_without_its_docs() -> None:
    recorded = RECORDED.read_bytes()
    assert hashlib.sha256(recorded).hexdigest() == (
        "ed251040724d748084a376a8d925a5ce59415f98518face73045cd464bcbf975")
    rebuilt = json.dumps(without_docs(json.loads(recorded)), indent=1, ensure_ascii=True) + "\n"
    vendored = VENDORED.read_bytes()
    assert rebuilt.encode() == vendored
    assert hashlib.sha256(vendored).hexdigest() == (
        "5b6db7bb3b1500ab0f0b29b17f5e64cd2e48cc1bfac255c68e556d4e0286ce2a")
    assert b'"docs"' not in vendored and b'"docs"' in recorded
    assert IDL.address == "vELoC1audYbSYVRXn1vPaV8Axoa9oU6BYmNGZZBDZ1P"
    assert IDL.label == "velocity 2.165.0"


@pytest.mark.parametrize("account", sorted(LAYOUT_DIFF["accounts"]))
def test_each_account_lays_out_field_by_field_as_layout_diff_derived_it(account: str) -> None:
    known = LAYOUT_DIFF["accounts"][account]
    layout = IDL.accounts[account]
    assert [[f.name, f.type_name, f.offset, f.size] for f in layout.fields] == (
        known["velocity_fields"])
    assert layout.size == known["velocity_size_with_disc"]
    assert list(layout.discriminator) == known["discriminator"]
    assert layout.discriminator == hashlib.sha256(f"account:{account}".encode()).digest()[:8]


@pytest.mark.parametrize("type_name", sorted(
    name for name, known in LAYOUT_DIFF["types"].items() if known.get("velocity_fields")))
def test_each_embedded_struct_lays_out_as_layout_diff_derived_it(type_name: str) -> None:
    known = LAYOUT_DIFF["types"][type_name]
    fields = IDL.struct_fields(type_name)
    assert [[f.name, f.type_name, f.offset, f.size] for f in fields] == known["velocity_fields"]
    assert sum(f.size for f in fields) == known["velocity_size"]


def doc_text(node: object) -> str:
    """Every doc comment of the recorded IDL, its lines joined."""
    if isinstance(node, dict):
        return " ".join([" ".join(node.get("docs", [])),
                         *(doc_text(v) for k, v in node.items() if k != "docs")])
    if isinstance(node, list):
        return " ".join(doc_text(item) for item in node)
    return ""


def test_the_offsets_velocity_s_doc_comments_state() -> None:
    docs = " ".join(doc_text(json.loads(RECORDED.read_text())).split())
    # "(which must stay at struct offset 752 ...)" on SpotMarket's protocol_fee_pool
    assert "stay at struct offset 752" in docs
    assert IDL.accounts["SpotMarket"].field("protocol_fee_pool").offset == 752
    # "Those fields must start at offsets 20 and 24" on PoolBalance's dust fields
    assert "must start at offsets 20 and 24" in docs
    dust = {f.name: f.offset for f in IDL.struct_fields("PoolBalance")}
    assert (dust["pending_interest_split_dust"], dust["pending_interest_dust"]) == (20, 24)
    # "State's first pubkey field at raw offset 8..40": after the 8-byte discriminator
    assert "at raw offset 8..40" in docs
    first = IDL.accounts["State"].fields[0]
    assert (first.type_name, DISCRIMINATOR_SIZE + first.offset,
            DISCRIMINATOR_SIZE + first.offset + first.size) == ("pubkey", 8, 40)
    assert IDL.accounts["User"].size == 4496


def blank(account: str) -> bytearray:
    layout = IDL.accounts[account]
    assert layout.size is not None
    return bytearray(layout.discriminator + bytes(layout.size - DISCRIMINATOR_SIZE))


def put(buffer: bytearray, offset: int, fmt: str, value: object) -> None:
    """Writes at a struct offset (layout_diff's: after the discriminator)."""
    struct.pack_into(fmt, buffer, DISCRIMINATOR_SIZE + offset, value)


def diff_offset(account: str, field: str) -> int:
    return next(f[2] for f in LAYOUT_DIFF["accounts"][account]["velocity_fields"]
                if f[0] == field)


def type_offset(type_name: str, field: str) -> int:
    return next(f[2] for f in LAYOUT_DIFF["types"][type_name]["velocity_fields"]
                if f[0] == field)


def test_known_values_written_at_a_perp_market_s_offsets_decode_back() -> None:
    market = blank("PerpMarket")
    put(market, diff_offset("PerpMarket", "pubkey"), "32s", bytes(SOL_MARKET))
    put(market, diff_offset("PerpMarket", "name"), "32s", b"SOL-PERP".ljust(32))
    put(market, diff_offset("PerpMarket", "market_index"), "<H", 7)
    put(market, diff_offset("PerpMarket", "last_funding_rate"), "<q", -11_600)
    put(market, diff_offset("PerpMarket", "last_funding_rate_ts"), "<q", 1_773_072_000)
    put(market, diff_offset("PerpMarket", "cumulative_funding_rate_long"), "<16s",
        (-(2**100)).to_bytes(16, "little", signed=True))
    put(market, diff_offset("PerpMarket", "status"), "<B", 2)   # Velocity's ReduceOnly
    put(market, diff_offset("PerpMarket", "contract_type"), "<B", 0)
    amm = diff_offset("PerpMarket", "amm")
    put(market, amm + type_offset("AMM", "peg_multiplier"), "<16s",
        (123_450_000).to_bytes(16, "little"))
    stats = diff_offset("PerpMarket", "market_stats")
    put(market, stats + type_offset("MarketStats", "last_24h_avg_funding_rate"), "<q", 5_000)
    decoded = VELOCITY.decode(bytes(market))
    values = decoded.values
    assert decoded.name == "PerpMarket"
    assert values["pubkey"] == str(SOL_MARKET)
    assert values["name"].rstrip() == b"SOL-PERP"
    assert values["market_index"] == 7
    assert values["last_funding_rate"] == -11_600
    assert values["last_funding_rate_ts"] == 1_773_072_000
    assert values["cumulative_funding_rate_long"] == -(2**100)
    assert values["status"] == "ReduceOnly" and values["contract_type"] == "Perpetual"
    assert values["amm"]["peg_multiplier"] == 123_450_000
    assert values["market_stats"]["last_24h_avg_funding_rate"] == 5_000
    # Drift's coder reads these very bytes as another account: it refuses them instead.
    with pytest.raises(AccountLayoutError, match="PerpMarket account is 1304 bytes"):
        DRIFT.decode(bytes(market))


def test_known_values_at_a_user_s_positions_and_orders_decode_back() -> None:
    user = blank("User")
    authority = Pubkey.from_string("vELoC1audYbSYVRXn1vPaV8Axoa9oU6BYmNGZZBDZ1P")
    put(user, diff_offset("User", "authority"), "32s", bytes(authority))
    perp = diff_offset("User", "perp_positions") + 1 * 80   # the second position
    put(user, perp + type_offset("PerpPosition", "base_asset_amount"), "<q", -2_000_000_000)
    put(user, perp + type_offset("PerpPosition", "market_index"), "<H", 0)
    put(user, perp + type_offset("PerpPosition", "quote_asset_amount"), "<q", 270_000_000)
    order = diff_offset("User", "orders") + 3 * 104          # the fourth order
    put(user, order + type_offset("Order", "oracle_price_offset"), "<q", -(2**40))   # i64 now
    put(user, order + type_offset("Order", "direction"), "<B", 1)
    put(user, order + type_offset("Order", "reduce_only"), "<B", 1)
    values = VELOCITY.decode(bytes(user)).values
    assert values["authority"] == str(authority)
    second = values["perp_positions"][1]
    assert (second["base_asset_amount"], second["quote_asset_amount"]) == (
        -2_000_000_000, 270_000_000)
    fourth = values["orders"][3]
    assert fourth["oracle_price_offset"] == -(2**40)
    assert fourth["direction"] == "Short" and fourth["reduce_only"] is True
    with pytest.raises(AccountLayoutError, match="User account is 4496 bytes"):
        DRIFT.decode(bytes(user))


@pytest.mark.parametrize("kind", ["PerpMarket", "SpotMarket", "User"])
def test_every_recorded_drift_account_is_refused_by_the_velocity_decoder(kind: str) -> None:
    accounts = [a for a in recorded_accounts() if a.kind == kind]
    assert accounts
    for account in accounts:
        with pytest.raises(AccountLayoutError) as refused:
            VELOCITY.decode(account.data)
        assert refused.value.account == kind
        assert refused.value.actual != refused.value.expected == IDL.accounts[kind].size


def test_user_stats_are_the_same_size_in_both_and_only_their_values_could_tell() -> None:
    # The one account a size check cannot place: Drift's and Velocity's UserStats are both 240
    # bytes. The adapter reads no UserStats; the owner program of every account it reads is
    # checked at the RPC, never the layout alone.
    assert IDL.accounts["UserStats"].size == DRIFT.sizes["UserStats"].least == 240


def test_a_value_the_idl_does_not_allow_is_refused_not_read() -> None:
    market = blank("PerpMarket")
    put(market, diff_offset("PerpMarket", "status"), "<B", 6)  # Drift's ReduceOnly: no such tag
    with pytest.raises(AccountLayoutError, match="MarketStatus holds the tag 6"):
        VELOCITY.decode(bytes(market))


def test_an_unknown_discriminator_or_a_cut_buffer_is_refused() -> None:
    with pytest.raises(AccountLayoutError, match="discriminator of no account"):
        VELOCITY.decode(bytes(1304))
    with pytest.raises(AccountLayoutError, match="says 1304"):
        VELOCITY.decode(bytes(blank("PerpMarket"))[:-1])


def test_an_idl_that_hides_repr_c_padding_is_refused() -> None:
    document = json.loads(VENDORED.read_text())
    pool = next(t for t in document["types"] if t["name"] == "PoolBalance")
    # Without the explicit 2-byte filler, the u32 dust field would sit at 18: repr(C) pads
    # it to 20, which the packed reading cannot know.
    pool["type"]["fields"] = [f for f in pool["type"]["fields"] if f["name"] != "padding"]
    with pytest.raises(IdlError, match=r"PoolBalance\.pending_interest_split_dust would sit at 18"):
        AnchorIdl(document)


INTEGER_RANGES = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
                  "u64": (0, 2**64 - 1), "u128": (0, 2**128 - 1), "i8": (-(2**7), 2**7 - 1),
                  "i16": (-(2**15), 2**15 - 1), "i32": (-(2**31), 2**31 - 1),
                  "i64": (-(2**63), 2**63 - 1), "i128": (-(2**127), 2**127 - 1)}


@st.composite
def account_values(draw: st.DrawFn, account: str) -> dict:
    """The blank account with every integer field at its top level drawn from its whole range."""
    values = VELOCITY.blank(account)
    for field in IDL.accounts[account].fields:
        if field.type_name in INTEGER_RANGES:
            low, high = INTEGER_RANGES[field.type_name]
            values[field.name] = draw(st.integers(low, high))
    return values


@settings(max_examples=60, deadline=None)
@given(data=st.data(), account=st.sampled_from(sorted(LAYOUT_DIFF["accounts"])))
def test_an_encoded_account_decodes_to_its_values(data: st.DataObject, account: str) -> None:
    values = data.draw(account_values(account))
    encoded = VELOCITY.encode(account, values)
    assert len(encoded) == IDL.accounts[account].size
    assert VELOCITY.decode(encoded).values == values


def test_a_decoded_account_encodes_to_its_bytes() -> None:
    market = blank("PerpMarket")
    put(market, diff_offset("PerpMarket", "name"), "32s", b"BTC-PERP".ljust(32))
    put(market, diff_offset("PerpMarket", "status"), "<B", 4)
    put(market, diff_offset("PerpMarket", "base_asset_amount_short"), "<16s",
        (-(10**15)).to_bytes(16, "little", signed=True))
    user = blank("User")
    put(user, diff_offset("User", "orders") + 104 + type_offset("Order", "post_only"), "<B", 1)
    for buffer in (bytes(market), bytes(user)):
        decoded = VELOCITY.decode(buffer)
        assert VELOCITY.encode(decoded.name, decoded.values) == buffer
