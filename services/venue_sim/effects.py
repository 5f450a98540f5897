"""What a confirmed transaction does to the served accounts, as the program would.

- place_perp_order: a Market order fills at once as a taker against the AMM (perp_math: oracle
  price moved against the taker by 0.1 %..0.3 %, tier-1 taker fee from the State's fee
  structure); funding is settled first, the position written as update_position_and_market
  does, the order slot left free. Refused (OnChainFailure: the transaction fails, nothing
  changes) when the exchange is paused, the size is under the market's minimum, a reduce-only
  order would not reduce, the oracle is stale for the AMM, or the fill is beyond the order's
  price limit. Other order types are written Open into the first free order slot (no book);
- settle_pnl: funding settled, then the claimable PnL moved between the position's quote and
  the User's quote spot balance (scaled by the spot market's cumulative deposit interest);
- deposit / withdraw: the wallet's token account and the User's spot position move by the
  amount, scaled by the spot market's cumulative deposit interest as the program does;
- other venue-program instructions: recorded only;
- the swap stand-in's memo: the wallet's SOL and quote tokens move as the quote said.
Each effect answers a sentence for the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftpy.accounts.oracle import decode_oracle
from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_state_public_key,
)
from driftpy.types import (
    MarketType,
    OrderStatus,
    OrderTriggerCondition,
    OrderType,
    PositionDirection,
)
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.venue_sim import perp_math, spot_math, synthetic
from services.venue_sim.accounts import AccountStore
from services.venue_sim.drift_coder import replace
from services.venue_sim.tx_decode import MEMO_PROGRAM, DecodedInstruction, DecodedTransaction

SWAP_MEMO_PREFIX = "venue_sim swap "
# One venue-program instruction's effect: a journal sentence, or OnChainFailure.
ProgramEffect = Callable[[AccountStore, DecodedInstruction, int], str]


@dataclass
class OnChainFailure(Exception):
    """The program refuses an instruction: the whole transaction fails with this error."""

    error_name: str
    message: str
    instruction_index: int = 0
    code: int = 0

    def err(self) -> dict[str, Any]:
        return {"InstructionError": [self.instruction_index, {"Custom": self.code}]}

    def logs(self, program_id: str) -> list[str]:
        return [f"Program {program_id} invoke [1]",
                f"Program log: AnchorError occurred. Error Code: {self.error_name}. "
                f"Error Number: {self.code}. Error Message: {self.message}.",
                f"Program {program_id} failed: custom program error: {self.code:#x}"]

    def note(self) -> str:
        return f"failed: {self.error_name} ({self.code}): {self.message}"


def apply_confirmed(store: AccountStore, tx: DecodedTransaction, slot: int,
                    program_effect: ProgramEffect | None = None) -> list[str]:
    """Applies every instruction (the venue program's through `program_effect`, Drift's by
    default); raises OnChainFailure (with its index and the IDL's code) when one is refused.
    Callers run this inside store.atomic() so a refusal changes nothing."""
    apply_program = program_effect or apply_drift_instruction
    notes = []
    for index, ix in enumerate(tx.instructions):
        if ix.is_drift:
            try:
                notes.append(apply_program(store, ix, slot))
            except OnChainFailure as failure:
                failure.instruction_index = index
                # a code given is another program's (a token transfer's); else the IDL's
                failure.code = failure.code or store.coder.error_code(failure.error_name)
                raise
        elif ix.program_id == str(MEMO_PROGRAM) and ix.args.get("text", "").startswith(
            SWAP_MEMO_PREFIX
        ):
            notes.append(_apply_swap(store, ix, tx.fee_payer))
    return notes


def apply_drift_instruction(store: AccountStore, ix: DecodedInstruction, slot: int) -> str:
    try:
        if ix.name == "place_perp_order":
            return _place_perp_order(store, ix, slot)
        if ix.name == "settle_pnl":
            return _settle_pnl(store, ix)
        if ix.name in ("deposit", "withdraw"):
            return _move_collateral(store, ix)
    except (KeyError, ValueError) as error:
        return f"{ix.name}: recorded, not applied ({error})"
    return f"{ix.name}: recorded, no effect modelled"


def _variant(enum_type: Any, name: str) -> Any:
    return getattr(enum_type, name)()


# -- perp orders and fills -------------------------------------------------------------------

def oracle_price(store: AccountStore, market: Any) -> int:
    """The perp market's oracle price (PRICE_PRECISION) as driftpy decodes the served oracle."""
    oracle = store.accounts[market.amm.oracle]
    return decode_oracle(oracle.data, market.amm.oracle_source).price


def _position_index(user: Any, market_index: int) -> int:
    positions = user.perp_positions
    for i, p in enumerate(positions):
        if p.market_index == market_index and (p.base_asset_amount or p.quote_asset_amount
                                               or p.open_orders or p.lp_shares):
            return i
    for i, p in enumerate(positions):
        if not (p.base_asset_amount or p.quote_asset_amount or p.open_orders or p.lp_shares):
            return i
    raise OnChainFailure("MaxNumberOfPositions", "the User has no free perp position")


def _place_perp_order(store: AccountStore, ix: DecodedInstruction, slot: int) -> str:
    params = ix.args["params"]
    if params["order_type"] == "Market":
        return _fill_market_order(store, ix, slot)
    user_address = Pubkey.from_string(ix.accounts[1])
    user = store.decoded(user_address)
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
    store.write(user_address, "User", replace(user, orders=orders,
                                              next_order_id=user.next_order_id + 1))
    return (f"place_perp_order: order {user.next_order_id} open on perp market "
            f"{params['market_index']} ({params['direction']} {params['base_asset_amount']})")


def _fill_market_order(store: AccountStore, ix: DecodedInstruction, slot: int) -> str:
    params = ix.args["params"]
    program = store.program_id
    state = store.decoded(get_state_public_key(program))
    if state.exchange_status != synthetic.EXCHANGE_ACTIVE:
        raise OnChainFailure("ExchangePaused", "Exchange is paused")
    market_index = params["market_index"]
    market_address = get_perp_market_public_key(program, market_index)
    market = store.decoded(market_address)
    amm = market.amm
    user_address = Pubkey.from_string(ix.accounts[1])
    user = store.decoded(user_address)
    index = _position_index(user, market_index)
    positions = list(user.perp_positions)
    position = replace(positions[index], market_index=market_index)
    position, funding = perp_math.settle_funding(position, amm.cumulative_funding_rate_long,
                                                 amm.cumulative_funding_rate_short)
    long = params["direction"] == "Long"
    base = params["base_asset_amount"] // amm.order_step_size * amm.order_step_size
    if params["reduce_only"]:
        held = position.base_asset_amount
        if held == 0 or (held > 0) == long:
            raise OnChainFailure("ReduceOnlyOrderIncreasedRisk",
                                 "Reduce Only Order Increased Risk")
        base = min(base, abs(held))
    if base < amm.min_order_size:
        raise OnChainFailure("InvalidOrderMinOrderSize", "Order Amount Too Small")
    stale = store.oracle_stale_slots.get(amm.oracle, 0)
    if stale > state.oracle_guard_rails.validity.slots_before_stale_for_amm:
        raise OnChainFailure("OracleStaleForAMM", "Oracle Stale for AMM")
    oracle = oracle_price(store, market)
    price = perp_math.fill_price(oracle, base, long, amm.order_tick_size)
    limit = params["price"]
    if limit and (price > limit if long else price < limit):
        raise OnChainFailure("SlippageOutsideLimit",
                             f"fill price {price} is beyond the order's limit {limit}")
    quote = perp_math.fill_quote(base, price, long)
    delta = perp_math.PositionDelta(base if long else -base, -quote if long else quote)
    position, pnl = perp_math.update_position(position, delta, amm.cumulative_funding_rate_long,
                                              amm.cumulative_funding_rate_short)
    tier = state.perp_fee_structure.fee_tiers[0]
    fee = perp_math.taker_fee(quote, tier.fee_numerator, tier.fee_denominator,
                              market.fee_adjustment)
    positions[index] = replace(position,
                               quote_asset_amount=position.quote_asset_amount - fee,
                               quote_break_even_amount=position.quote_break_even_amount - fee)
    store.write(user_address, "User", replace(
        user, perp_positions=positions, next_order_id=user.next_order_id + 1,
        cumulative_perp_funding=user.cumulative_perp_funding + funding, last_active_slot=slot,
    ))
    side = "Long" if long else "Short"
    return (f"place_perp_order: order {user.next_order_id} filled on perp market {market_index}: "
            f"{side} {base} at {price} (oracle {oracle}), quote {quote}, fee {fee}, "
            f"realized pnl {pnl}, funding {funding}")


def _settle_pnl(store: AccountStore, ix: DecodedInstruction) -> str:
    market_index = ix.args["market_index"]
    program = store.program_id
    market = store.decoded(get_perp_market_public_key(program, market_index))
    user_address = Pubkey.from_string(ix.accounts[1])
    user = store.decoded(user_address)
    positions = list(user.perp_positions)
    index = next((i for i, p in enumerate(positions) if p.market_index == market_index
                  and (p.base_asset_amount or p.quote_asset_amount)), None)
    if index is None:
        return f"settle_pnl: no position on perp market {market_index}"
    amm = market.amm
    position, funding = perp_math.settle_funding(positions[index],
                                                 amm.cumulative_funding_rate_long,
                                                 amm.cumulative_funding_rate_short)
    pnl = perp_math.claimable_pnl(position, oracle_price(store, market))
    quote_index = store.profile.quote_spot_market_index
    spot = store.decoded(get_spot_market_public_key(program, quote_index))
    spot_positions = list(user.spot_positions)
    slot = _spot_slot(spot_positions, quote_index)
    held = spot_positions[slot]
    scaled = _scaled(abs(pnl), spot, round_up=pnl < 0)
    if pnl < 0 and scaled > held.scaled_balance:
        raise OnChainFailure("InsufficientCollateralForSettlingPNL",
                             "Insufficient collateral for settling pnl (borrows not modelled)")
    spot_positions[slot] = replace(held, market_index=quote_index,
                                   scaled_balance=held.scaled_balance
                                   + (scaled if pnl >= 0 else -scaled))
    positions[index] = replace(position, quote_asset_amount=position.quote_asset_amount - pnl,
                               settled_pnl=position.settled_pnl + pnl)
    store.write(user_address, "User", replace(
        user, perp_positions=positions, spot_positions=spot_positions,
        settled_perp_pnl=user.settled_perp_pnl + pnl,
        cumulative_perp_funding=user.cumulative_perp_funding + funding,
    ))
    return f"settle_pnl: {pnl} quote units settled from perp market {market_index}"


# -- collateral --------------------------------------------------------------------------------

def _scaled(amount: int, spot_market: Any, round_up: bool = False) -> int:
    return spot_math.scaled_balance(amount, spot_market.decimals,
                                    spot_market.cumulative_deposit_interest, round_up)


def _spot_slot(positions: list[Any], market_index: int) -> int:
    slot = next((i for i, p in enumerate(positions)
                 if p.market_index == market_index and p.scaled_balance > 0), None)
    if slot is None:
        slot = next((i for i, p in enumerate(positions)
                     if p.scaled_balance == 0 and p.open_orders == 0), None)
    if slot is None:
        raise ValueError("the User has no free spot position")
    return slot


def _move_collateral(store: AccountStore, ix: DecodedInstruction) -> str:
    market_index, amount = ix.args["market_index"], ix.args["amount"]
    sign = 1 if ix.name == "deposit" else -1
    user_address = Pubkey.from_string(ix.accounts[1])
    token_address = Pubkey.from_string(ix.accounts[5] if ix.name == "deposit" else ix.accounts[6])
    market = store.decoded(get_spot_market_public_key(store.program_id, market_index))
    user = store.decoded(user_address)
    scaled = _scaled(amount, market, round_up=sign < 0)
    positions = list(user.spot_positions)
    slot = _spot_slot(positions, market_index)
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
    store.write(user_address, "User", replace(user, spot_positions=positions))
    return f"{ix.name}: {amount} base units of spot market {market_index}"


def _apply_swap(store: AccountStore, ix: DecodedInstruction, wallet: str) -> str:
    order = json.loads(ix.args["text"].removeprefix(SWAP_MEMO_PREFIX))
    owner = Pubkey.from_string(wallet)
    quote_address = get_associated_token_address(owner, store.quote_mint)
    account, quote = store.accounts.get(owner), store.accounts.get(quote_address)
    if account is None or quote is None:
        return "swap: recorded, the wallet has no SOL or quote token account here"
    sol_delta, usdc_delta = int(order["sol_delta"]), int(order["usdc_delta"])
    held_quote = synthetic.token_amount(quote.data)
    if account.balance() + sol_delta < 0 or held_quote + usdc_delta < 0:
        return "swap: recorded, not applied (insufficient balance)"
    store.put(replace(account, lamports=account.balance() + sol_delta))
    store.update_data(quote_address, synthetic.with_token_amount(quote.data,
                                                                 held_quote + usdc_delta))
    return (f"swap: SOL {sol_delta:+d} lamports, {store.profile.quote_symbol} {usdc_delta:+d} "
            "base units")
