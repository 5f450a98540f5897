"""The carry's Velocity instructions (services/executor/velocity_orders.py), each decoded back with
Velocity's IDL and checked: program id, arguments, the IDL's named accounts with their flags, and
the remaining accounts in Drift's order (oracles, spot markets, perp markets), writable only where
the instruction changes them."""

from __future__ import annotations

import json

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey

from services.common.anchor_idl import AnchorIdl
from services.common.anchor_instructions import AnchorInstructions, InstructionError
from services.common.venue import Side
from services.common.venue_profile import load_profile
from services.executor.velocity_orders import PerpMarketRef, SpotMarketRef, VelocityOrders

IX = AnchorInstructions(AnchorIdl(json.loads(load_profile("velocity").idl_json())))
AUTHORITY = Pubkey.from_string("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin")
SIGNER = Pubkey.new_unique()
USDT = SpotMarketRef(0, Pubkey.default())
SOL_ORACLE, BTC_ORACLE = Pubkey.new_unique(), Pubkey.new_unique()
SOL = PerpMarketRef(0, SOL_ORACLE, USDT)
BTC = PerpMarketRef(1, BTC_ORACLE, USDT)
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ORDERS = VelocityOrders(IX, AUTHORITY, 2, program_signer=SIGNER)


def remaining(instruction: Instruction) -> list[tuple[Pubkey, bool]]:
    named = len(IX.layout(IX.decode(instruction).name).accounts)
    return [(meta.pubkey, meta.is_writable) for meta in list(instruction.accounts)[named:]]


def spot(index: int) -> Pubkey:
    return IX.address("spot_market", market_index=index)


def perp(index: int) -> Pubkey:
    return IX.address("perp_market", market_index=index)


def test_a_market_order_carries_velocity_s_params_and_reads_the_markets_it_needs() -> None:
    order = ORDERS.market_order(BTC, Side.SHORT, 1_000_000, 95_000_000_000, reduce_only=False,
                                max_ts=1_773_072_030, user_order_id=9, held=[SOL])
    decoded = IX.decode(order)
    assert decoded.name == "place_perp_order" and order.program_id == IX.program_id
    params = decoded.args["params"]
    assert (params["direction"], params["base_asset_amount"], params["price"],
            params["market_index"], params["max_ts"], params["reduce_only"]) == (
        "Short", 1_000_000, 95_000_000_000, 1, 1_773_072_030, False)
    assert params["oracle_price_offset"] is None and params["builder_idx"] is None
    assert decoded.accounts == {
        "state": IX.address("state"), "authority": AUTHORITY,
        "user": IX.address("user", authority=AUTHORITY, sub_account_id=2)}
    signer = next(m for m in order.accounts if m.pubkey == AUTHORITY)
    assert signer.is_signer and not signer.is_writable
    assert remaining(order) == [(SOL_ORACLE, False), (BTC_ORACLE, False), (spot(0), False),
                                (perp(0), False), (perp(1), False)]


def test_a_deposit_and_a_withdrawal_write_the_quote_market_and_its_vault() -> None:
    token_account = Pubkey.new_unique()
    # A withdrawal is reduce-only: it takes back what is deposited and never borrows.
    for name, build, reduce_only in (("deposit", ORDERS.deposit, False),
                                     ("withdraw", ORDERS.withdraw, True)):
        instruction = build(USDT, 25_000_000, token_account, TOKEN_PROGRAM, held=[SOL])
        decoded = IX.decode(instruction)
        assert (decoded.name, decoded.args) == (
            name, {"market_index": 0, "amount": 25_000_000, "reduce_only": reduce_only})
        assert decoded.accounts["spot_market_vault"] == IX.address("spot_market_vault",
                                                                   market_index=0)
        assert decoded.accounts["user_stats"] == IX.address("user_stats", authority=AUTHORITY)
        assert decoded.accounts["user_token_account"] == token_account
        assert remaining(instruction) == [(SOL_ORACLE, False), (spot(0), True),
                                          (perp(0), False)]
    withdrawal = ORDERS.withdraw(USDT, 1, token_account, TOKEN_PROGRAM)
    assert IX.decode(withdrawal).accounts["velocity_signer"] == SIGNER


def test_settling_writes_the_markets_it_settles() -> None:
    settle = ORDERS.settle_pnl(SOL, held=[BTC])
    decoded = IX.decode(settle)
    assert (decoded.name, decoded.args) == ("settle_pnl", {"market_index": 0})
    assert remaining(settle) == [(BTC_ORACLE, False), (SOL_ORACLE, False), (spot(0), True),
                                 (perp(1), False), (perp(0), True)]
    funding = ORDERS.settle_funding(held=[SOL, BTC])
    assert IX.decode(funding).name == "settle_funding_payment"
    assert remaining(funding) == [(SOL_ORACLE, False), (BTC_ORACLE, False), (spot(0), False),
                                  (perp(0), True), (perp(1), True)]


def test_a_cancel_names_its_order_or_none_for_all() -> None:
    assert IX.decode(ORDERS.cancel_order(17)).args == {"order_id": 17}
    assert IX.decode(ORDERS.cancel_order()).args == {"order_id": None}


def test_an_order_with_the_signer_flag_dropped_is_refused_by_the_idl() -> None:
    order = ORDERS.market_order(SOL, Side.LONG, 1, 1, reduce_only=True, max_ts=1,
                                user_order_id=1)
    unsigned = [AccountMeta(m.pubkey, False, m.is_writable) for m in order.accounts]
    with pytest.raises(InstructionError, match="authority must be a signer"):
        IX.decode(Instruction(order.program_id, bytes(order.data), unsigned))
