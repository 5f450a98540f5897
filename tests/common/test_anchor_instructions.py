"""Velocity's instructions and addresses from its own IDL (services/common/anchor_instructions.py),
checked against independent implementations: driftpy derives the same program addresses from the
same seeds (only the state's seed differs: `velocity_state`), anchorpy encodes Drift's deposit to
the same bytes (its arguments are unchanged), and a Drift-encoded order is refused by Velocity's
decoder (OrderParams' `oracle_price_offset` is an i64 there)."""

from __future__ import annotations

import json
from pathlib import Path

import driftpy
import driftpy.addresses as drift_addresses
import pytest
from anchorpy import Idl
from anchorpy.coder.instruction import InstructionCoder
from anchorpy.program.common import NamedInstruction
from driftpy.types import MarketType, OrderParams, OrderType, PositionDirection
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from services.common.anchor_idl import AnchorIdl
from services.common.anchor_instructions import AnchorInstructions, InstructionError
from services.common.venue_profile import load_profile

VELOCITY = AnchorInstructions(AnchorIdl(json.loads(load_profile("velocity").idl_json())))
PROGRAM = VELOCITY.program_id
DRIFT_CODER = InstructionCoder(Idl.from_json(
    (Path(driftpy.__file__).parent / "idl" / "drift.json").read_text()))
AUTHORITY = Pubkey.from_string("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin")


def test_program_addresses_from_the_idl_s_seeds_match_driftpy_s_derivation() -> None:
    assert str(PROGRAM) == "vELoC1audYbSYVRXn1vPaV8Axoa9oU6BYmNGZZBDZ1P"
    for sub_account in (0, 3):
        assert VELOCITY.address("user", authority=AUTHORITY, sub_account_id=sub_account) == (
            drift_addresses.get_user_account_public_key(PROGRAM, AUTHORITY, sub_account))
    assert VELOCITY.address("user_stats", authority=AUTHORITY) == (
        drift_addresses.get_user_stats_account_public_key(PROGRAM, AUTHORITY))
    for index in (0, 1, 2):
        assert VELOCITY.address("perp_market", market_index=index) == (
            drift_addresses.get_perp_market_public_key(PROGRAM, index))
        assert VELOCITY.address("spot_market", market_index=index) == (
            drift_addresses.get_spot_market_public_key(PROGRAM, index))
        assert VELOCITY.address("spot_market_vault", market_index=index) == (
            drift_addresses.get_spot_market_vault_public_key(PROGRAM, index))
    # The one seed Velocity renamed: driftpy's "drift_state" would name another account.
    state = VELOCITY.address("state")
    assert state == Pubkey.find_program_address([b"velocity_state"], PROGRAM)[0]
    assert state != drift_addresses.get_state_public_key(PROGRAM)


def deposit_accounts() -> dict[str, Pubkey]:
    return {"state": VELOCITY.address("state"),
            "user": VELOCITY.address("user", authority=AUTHORITY, sub_account_id=0),
            "user_stats": VELOCITY.address("user_stats", authority=AUTHORITY),
            "authority": AUTHORITY,
            "spot_market_vault": VELOCITY.address("spot_market_vault", market_index=0),
            "user_token_account": Pubkey.new_unique(),
            "token_program": Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")}


def test_a_deposit_encodes_as_anchorpy_encodes_drift_s_and_decodes_back() -> None:
    args = {"market_index": 0, "amount": 1_000_000, "reduce_only": False}
    instruction = VELOCITY.build("deposit", args, deposit_accounts())
    assert bytes(instruction.data) == DRIFT_CODER.build(NamedInstruction(name="deposit",
                                                                         data=args))
    assert instruction.program_id == PROGRAM
    flags = [(m.is_signer, m.is_writable) for m in instruction.accounts]
    assert flags == [(False, False), (False, True), (False, True), (True, False),
                     (False, True), (False, True), (False, False)]
    decoded = VELOCITY.decode(instruction)
    assert (decoded.name, decoded.args) == ("deposit", args)
    assert decoded.accounts == deposit_accounts() | {
        "user_token_account": decoded.accounts["user_token_account"]}


VELOCITY_ORDER = {
    "order_type": "Market", "market_type": "Perp", "direction": "Short", "user_order_id": 7,
    "base_asset_amount": 2_000_000_000, "price": 84_000_000, "market_index": 0,
    "reduce_only": False, "post_only": "None", "bit_flags": 0, "max_ts": 1_773_072_030,
    "trigger_price": None, "trigger_condition": "Above", "oracle_price_offset": -(2**35),
    "auction_duration": None, "auction_start_price": None, "auction_end_price": None,
    "builder_idx": None, "builder_fee_tenth_bps": None}


def order_accounts() -> dict[str, Pubkey]:
    return {"state": VELOCITY.address("state"), "authority": AUTHORITY,
            "user": VELOCITY.address("user", authority=AUTHORITY, sub_account_id=0)}


def test_an_order_carries_velocity_s_i64_price_offset_and_builder_fields() -> None:
    instruction = VELOCITY.build("place_perp_order", {"params": VELOCITY_ORDER},
                                 order_accounts())
    assert VELOCITY.decode(instruction).args == {"params": VELOCITY_ORDER}
    # An offset beyond an i32: Drift's OrderParams could not carry it at all.
    with pytest.raises(Exception):  # noqa: B017  (construct's own error type)
        DRIFT_CODER.build(NamedInstruction(name="place_perp_order", data={"params": OrderParams(
            order_type=OrderType.Market(), market_type=MarketType.Perp(),
            direction=PositionDirection.Short(), base_asset_amount=2_000_000_000,
            market_index=0, oracle_price_offset=-(2**35))}))


def test_a_drift_encoded_order_is_refused_by_velocity_s_decoder() -> None:
    drift = DRIFT_CODER.build(NamedInstruction(name="place_perp_order", data={"params": OrderParams(
        order_type=OrderType.Market(), market_type=MarketType.Perp(),
        direction=PositionDirection.Short(), base_asset_amount=2_000_000_000, market_index=0,
        price=84_000_000, max_ts=1_773_072_030, oracle_price_offset=-5)}))
    metas = [AccountMeta(address, is_signer=name == "authority", is_writable=name == "user")
             for name, address in order_accounts().items()]
    with pytest.raises(InstructionError, match="place_perp_order's arguments"):
        VELOCITY.decode(Instruction(PROGRAM, drift, metas))


def test_an_instruction_that_does_not_fit_the_idl_is_refused() -> None:
    good = VELOCITY.build("deposit", {"market_index": 0, "amount": 5, "reduce_only": True},
                          deposit_accounts())
    with pytest.raises(InstructionError, match="not for"):
        VELOCITY.decode(Instruction(Pubkey.new_unique(), bytes(good.data), good.accounts))
    with pytest.raises(InstructionError, match="carries 12"):
        VELOCITY.decode(Instruction(PROGRAM, bytes(good.data) + b"\0", good.accounts))
    unsigned = [AccountMeta(m.pubkey, is_signer=False, is_writable=m.is_writable)
                for m in good.accounts]
    with pytest.raises(InstructionError, match="authority must be a signer"):
        VELOCITY.decode(Instruction(PROGRAM, bytes(good.data), unsigned))
    with pytest.raises(InstructionError, match="needs the account 'user_token_account'"):
        VELOCITY.build("deposit", {"market_index": 0, "amount": 5, "reduce_only": True},
                       {k: v for k, v in deposit_accounts().items()
                        if k != "user_token_account"})
