"""What a confirmed transaction does to the served accounts, as far as a stand-in can tell.

- place_perp_order: the order is written into the User's first free order slot as Open, with
  the program's next order id (no matching engine: it is not filled);
- deposit / withdraw: the wallet's token account and the User's spot position move by the
  amount, scaled by the spot market's cumulative deposit interest as the program does;
- settle_pnl and other Drift instructions: recorded only;
- the swap stand-in's memo: the wallet's SOL and USDC move as the quote said.
Each effect answers a sentence for the journal.
"""

from __future__ import annotations

import json
from typing import Any

from driftpy.addresses import get_spot_market_public_key
from driftpy.types import (
    MarketType,
    OrderStatus,
    OrderTriggerCondition,
    OrderType,
    PositionDirection,
)
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.venue_sim import synthetic
from services.venue_sim.accounts import USDC_MINT, AccountStore
from services.venue_sim.drift_coder import PROGRAM_ID, decode_account, encode_account, replace
from services.venue_sim.tx_decode import MEMO_PROGRAM, DecodedInstruction, DecodedTransaction

SWAP_MEMO_PREFIX = "venue_sim swap "
# protocol-v2 math/spot_balance.rs: balance = token_amount * 10^(19 - decimals) / cumulative
# interest (SPOT_CUMULATIVE_INTEREST_PRECISION 1e10), so 1 token = SPOT_BALANCE_PRECISION 1e9.
_BALANCE_DECIMALS = 19


def apply_confirmed(store: AccountStore, tx: DecodedTransaction, slot: int) -> list[str]:
    notes = []
    for ix in tx.instructions:
        if ix.program_id == str(PROGRAM_ID):
            notes.append(_apply_drift(store, ix, slot))
        elif ix.program_id == str(MEMO_PROGRAM) and ix.args.get("text", "").startswith(
            SWAP_MEMO_PREFIX
        ):
            notes.append(_apply_swap(store, ix, tx.fee_payer))
    return notes


def _apply_drift(store: AccountStore, ix: DecodedInstruction, slot: int) -> str:
    try:
        if ix.name == "place_perp_order":
            return _place_perp_order(store, ix, slot)
        if ix.name in ("deposit", "withdraw"):
            return _move_collateral(store, ix)
    except (KeyError, ValueError) as error:
        return f"{ix.name}: recorded, not applied ({error})"
    return f"{ix.name}: recorded, no effect modelled"


def _variant(enum_type: Any, name: str) -> Any:
    return getattr(enum_type, name)()


def _place_perp_order(store: AccountStore, ix: DecodedInstruction, slot: int) -> str:
    params = ix.args["params"]
    user_address = Pubkey.from_string(ix.accounts[1])
    user = decode_account(store.accounts[user_address].data)
    free = next((i for i, order in enumerate(user.orders)
                 if type(order.status).__name__ == "Init"), None)
    if free is None:
        raise ValueError("the User has no free order slot")
    orders = list(user.orders)
    orders[free] = replace(
        orders[free],
        slot=slot,
        price=params["price"],
        base_asset_amount=params["base_asset_amount"],
        order_id=user.next_order_id,
        market_index=params["market_index"],
        status=OrderStatus.Open(),
        order_type=_variant(OrderType, params["order_type"]),
        market_type=MarketType.Perp(),
        user_order_id=params["user_order_id"],
        direction=_variant(PositionDirection, params["direction"]),
        reduce_only=params["reduce_only"],
        trigger_price=params["trigger_price"] or 0,
        trigger_condition=_variant(OrderTriggerCondition, params["trigger_condition"]),
        auction_duration=params["auction_duration"] or 0,
        auction_start_price=params["auction_start_price"] or 0,
        auction_end_price=params["auction_end_price"] or 0,
        max_ts=params["max_ts"] or 0,
        oracle_price_offset=params["oracle_price_offset"] or 0,
    )
    updated = replace(user, orders=orders, next_order_id=user.next_order_id + 1)
    store.update_data(user_address, encode_account("User", updated))
    return (f"place_perp_order: order {user.next_order_id} open on perp market "
            f"{params['market_index']} ({params['direction']} {params['base_asset_amount']})")


def _move_collateral(store: AccountStore, ix: DecodedInstruction) -> str:
    market_index, amount = ix.args["market_index"], ix.args["amount"]
    sign = 1 if ix.name == "deposit" else -1
    user_address = Pubkey.from_string(ix.accounts[1])
    token_address = Pubkey.from_string(ix.accounts[5] if ix.name == "deposit" else ix.accounts[6])
    market = decode_account(store.accounts[get_spot_market_public_key(PROGRAM_ID, market_index)]
                            .data)
    user = decode_account(store.accounts[user_address].data)
    scaled = amount * 10 ** (_BALANCE_DECIMALS - market.decimals) \
        // market.cumulative_deposit_interest
    positions = list(user.spot_positions)
    slot = next((i for i, p in enumerate(positions)
                 if p.market_index == market_index and p.scaled_balance > 0), None)
    if slot is None:
        slot = next((i for i, p in enumerate(positions)
                     if p.scaled_balance == 0 and p.open_orders == 0), None)
    if slot is None:
        raise ValueError("the User has no free spot position")
    position = positions[slot]
    new_balance = position.scaled_balance + sign * scaled
    if new_balance < 0:
        raise ValueError("withdraw exceeds the deposit; borrowing is not modelled")
    positions[slot] = replace(position, market_index=market_index, scaled_balance=new_balance,
                              cumulative_deposits=position.cumulative_deposits + sign * amount)
    token = store.accounts.get(token_address)
    if token is not None:
        held = synthetic.token_amount(token.data)
        if held - sign * amount < 0:
            raise ValueError("the wallet's token account holds less than the deposit")
        store.update_data(token_address, synthetic.with_token_amount(token.data,
                                                                     held - sign * amount))
    store.update_data(user_address, encode_account("User", replace(user,
                                                                   spot_positions=positions)))
    return f"{ix.name}: {amount} base units of spot market {market_index}"


def _apply_swap(store: AccountStore, ix: DecodedInstruction, wallet: str) -> str:
    order = json.loads(ix.args["text"].removeprefix(SWAP_MEMO_PREFIX))
    owner = Pubkey.from_string(wallet)
    usdc_address = get_associated_token_address(owner, USDC_MINT)
    account, usdc = store.accounts.get(owner), store.accounts.get(usdc_address)
    if account is None or usdc is None:
        return "swap: recorded, the wallet has no SOL or USDC account here"
    sol_delta, usdc_delta = int(order["sol_delta"]), int(order["usdc_delta"])
    held_usdc = synthetic.token_amount(usdc.data)
    if account.balance() + sol_delta < 0 or held_usdc + usdc_delta < 0:
        return "swap: recorded, not applied (insufficient balance)"
    store.put(replace(account, lamports=account.balance() + sol_delta))
    store.update_data(usdc_address, synthetic.with_token_amount(usdc.data, held_usdc + usdc_delta))
    return f"swap: SOL {sol_delta:+d} lamports, USDC {usdc_delta:+d} base units"
