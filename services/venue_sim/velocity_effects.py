"""What a confirmed instruction to Velocity's program does to the served Velocity-layout accounts
(plain dicts, velocity_store.py). The numbers are the Drift stand-in's (perp_math, spot_math,
effects.py); what differs is where Velocity keeps them: the cumulative funding rates, open
interest and entry totals at the PerpMarket's top level (Drift: in `amm`), the minimum order
size in `market_stats`, and no FundingPaused status (Active with the UpdateFunding
paused-operation bit, which leaves the market tradable, as the Drift stand-in leaves a
FundingPaused market).

- place_perp_order Market: fills at once as a taker (effects.py's rules); the position and the
  market's long/short totals move together. Other order types are written Open (no book).
- cancel_order: the order (given, or the last placed) is cleared; none is no error.
- settle_pnl / settle_funding_payment: as effects.py's settle_pnl; funding owed paid into quote.
- deposit / withdraw: wallet token account, vault, the User's scaled spot balance and the
  spot market's deposit balance; a reduce-only withdraw is capped at the deposit.
- an instruction Velocity's IDL cannot decode fails as the program would fail it.
Refusals raise effects.OnChainFailure with Velocity's error name (its code comes from the IDL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, make_dataclass
from functools import cache
from typing import Any

from driftpy.accounts.oracle import decode_oracle
from solders.pubkey import Pubkey

from services.venue_sim import perp_math, spot_math, synthetic
from services.venue_sim.effects import OnChainFailure
from services.venue_sim.tx_decode import DecodedInstruction
from services.venue_sim.velocity_store import VelocityAccountStore, drift_oracle_source

# The IDL's error for instruction data it cannot read (Anchor's own would be 102,
# InstructionDidNotDeserialize, which an IDL does not list).
UNDECODABLE = "InvalidNativeInstructionData"
# SPL Token's TokenError::InsufficientFunds: a transfer beyond the balance fails in the CPI.
TOKEN_INSUFFICIENT_FUNDS = 1
# A taker fee add-on in tenths of a basis point: 1 / 100_000 of the quote.
TENTH_BPS = 100_000


@cache
def _record(type_name: str, fields: tuple[str, ...]) -> type:
    """A dataclass of a Velocity struct's fields, so perp_math (attribute access and
    dataclasses.replace) works on the decoded dicts."""
    return make_dataclass(type_name, fields)


def _position(values: dict[str, Any]) -> Any:
    return _record("PerpPosition", tuple(values))(**values)


def _refuse(store: VelocityAccountStore, name: str, detail: str = "") -> OnChainFailure:
    return OnChainFailure(name, detail or store.coder.error_message(name))


def oracle_price(store: VelocityAccountStore, market: dict[str, Any]) -> int:
    """The market's oracle price (PRICE_PRECISION), the served oracle decoded by driftpy."""
    oracle = store.accounts[Pubkey.from_string(market["oracle"])]
    return decode_oracle(oracle.data, drift_oracle_source(market["oracle_source"])).price


def _accounts(ix: DecodedInstruction) -> dict[str, Pubkey]:
    return {name: Pubkey.from_string(key) for name, key in ix.named_accounts.items()}


def _perp_market(store: VelocityAccountStore, ix: DecodedInstruction,
                 market_index: int) -> tuple[Pubkey, dict[str, Any]]:
    """The perp market, which the program reads from the remaining accounts only."""
    address = store.perp_market_address(market_index)
    if str(address) not in ix.accounts or address not in store.accounts:
        raise _refuse(store, "PerpMarketNotFound",
                      f"perp market {market_index} is not among the instruction's accounts")
    return address, store.decoded(address)


def _held(position: dict[str, Any]) -> bool:
    return bool(position["base_asset_amount"] or position["quote_asset_amount"]
                or position["open_orders"])


def _position_slot(store: VelocityAccountStore, user: dict[str, Any], market_index: int,
                   ) -> int:
    positions = user["perp_positions"]
    for i, p in enumerate(positions):
        if p["market_index"] == market_index and _held(p):
            return i
    for i, p in enumerate(positions):
        if not _held(p):
            return i
    raise _refuse(store, "MaxNumberOfPositions")


def _side_totals(position: Any) -> dict[str, int]:
    """A position's share of its market's long or short totals."""
    base = position.base_asset_amount
    if base == 0:
        return {}
    side = "long" if base > 0 else "short"
    return {f"base_asset_amount_{side}": base,
            f"quote_entry_amount_{side}": position.quote_entry_amount,
            f"quote_break_even_amount_{side}": position.quote_break_even_amount}


def _move_market_totals(market: dict[str, Any], before: Any, after: Any) -> None:
    """update_position_and_market's market side: the totals lose the old position and gain the
    new one; the AMM takes the other side of the base."""
    for name, amount in _side_totals(before).items():
        market[name] -= amount
    for name, amount in _side_totals(after).items():
        market[name] += amount
    market["quote_asset_amount"] += after.quote_asset_amount - before.quote_asset_amount
    market["amm"]["base_asset_amount_with_amm"] += \
        after.base_asset_amount - before.base_asset_amount
    if (before.base_asset_amount == 0) != (after.base_asset_amount == 0):
        market["number_of_users_with_base"] += 1 if before.base_asset_amount == 0 else -1


def _settle_funding(market: dict[str, Any], position: Any) -> tuple[Any, int]:
    return perp_math.settle_funding(position, market["cumulative_funding_rate_long"],
                                    market["cumulative_funding_rate_short"])


# -- perp orders --------------------------------------------------------------------------------

def _check_market_takes(store: VelocityAccountStore, market: dict[str, Any], reduces: bool,
                        ) -> None:
    status = market["status"]
    if status == "Initialized":
        raise _refuse(store, "MarketBeingInitialized")
    if status in ("Settlement", "Delisted"):
        raise _refuse(store, "MarketPlaceOrderPaused")
    if status == "ReduceOnly" and not reduces:
        raise _refuse(store, "InvalidOrderNotRiskReducing",
                      "the market is ReduceOnly and the order would not reduce the position")


def _place_perp_order(store: VelocityAccountStore, ix: DecodedInstruction, slot: int) -> str:
    params = ix.args["params"]
    state = store.decoded(store.state_address)
    if state["exchange_status"] != synthetic.EXCHANGE_ACTIVE:
        raise _refuse(store, "ExchangePaused")
    market_address, market = _perp_market(store, ix, params["market_index"])
    if params["order_type"] == "Market":
        return _fill_market_order(store, ix, slot, state, market_address, market)
    user_address = _accounts(ix)["user"]
    user = store.decoded(user_address)
    free = next((i for i, order in enumerate(user["orders"]) if order["status"] == "Init"), None)
    if free is None:
        raise _refuse(store, "MaxNumberOfOrders")
    order = user["orders"][free]
    order.update(
        slot=slot, price=params["price"], base_asset_amount=params["base_asset_amount"],
        order_id=user["next_order_id"], market_index=params["market_index"], status="Open",
        order_type=params["order_type"], market_type="Perp", user_order_id=params["user_order_id"],
        direction=params["direction"], reduce_only=params["reduce_only"],
        post_only=params["post_only"] != "None", trigger_price=params["trigger_price"] or 0,
        trigger_condition=params["trigger_condition"],
        auction_duration=params["auction_duration"] or 0,
        auction_start_price=params["auction_start_price"] or 0,
        auction_end_price=params["auction_end_price"] or 0, max_ts=params["max_ts"] or 0,
        oracle_price_offset=params["oracle_price_offset"] or 0,
    )
    user.update(next_order_id=user["next_order_id"] + 1, open_orders=user["open_orders"] + 1,
                has_open_order=True, last_active_slot=slot)
    store.write(user_address, "User", user)
    return (f"place_perp_order: order {order['order_id']} open on perp market "
            f"{params['market_index']} ({params['direction']} {params['base_asset_amount']})")


def _fill_market_order(store: VelocityAccountStore, ix: DecodedInstruction, slot: int,
                       state: dict[str, Any], market_address: Pubkey,
                       market: dict[str, Any]) -> str:
    params = ix.args["params"]
    market_index = params["market_index"]
    user_address = _accounts(ix)["user"]
    user = store.decoded(user_address)
    index = _position_slot(store, user, market_index)
    before = _position({**user["perp_positions"][index], "market_index": market_index})
    position, funding = _settle_funding(market, before)
    long = params["direction"] == "Long"
    step = market["order_step_size"]
    base = params["base_asset_amount"] // step * step
    held = position.base_asset_amount
    reduces = held != 0 and (held > 0) != long and base <= abs(held)
    if params["reduce_only"]:
        if held == 0 or (held > 0) == long:
            raise _refuse(store, "ReduceOnlyOrderIncreasedRisk")
        base, reduces = min(base, abs(held)), True
    _check_market_takes(store, market, reduces)
    if base < market["market_stats"]["min_order_size"]:
        raise _refuse(store, "InvalidOrderMinOrderSize")
    oracle = Pubkey.from_string(market["oracle"])
    if store.oracle_stale_slots.get(oracle, 0) > \
            state["oracle_guard_rails"]["validity"]["slots_before_stale_for_amm"]:
        raise _refuse(store, "OracleStaleForAMM")
    oracle_at = oracle_price(store, market)
    price = perp_math.fill_price(oracle_at, base, long, market["order_tick_size"])
    limit = params["price"]
    if limit and (price > limit if long else price < limit):
        raise _refuse(store, "SlippageOutsideLimit",
                      f"fill price {price} is beyond the order's limit {limit}")
    quote = perp_math.fill_quote(base, price, long)
    delta = perp_math.PositionDelta(base if long else -base, -quote if long else quote)
    position, pnl = perp_math.update_position(position, delta,
                                              market["cumulative_funding_rate_long"],
                                              market["cumulative_funding_rate_short"])
    tier = state["perp_fee_structure"]["fee_tiers"][0]
    fee = perp_math.taker_fee(quote, tier["fee_numerator"], tier["fee_denominator"],
                              market["fee_adjustment"])
    fee += -(-quote * market["taker_fee_addon_tenth_bps"] // TENTH_BPS)
    after = perp_math.replace(position,
                              quote_asset_amount=position.quote_asset_amount - fee,
                              quote_break_even_amount=position.quote_break_even_amount - fee)
    user["perp_positions"][index] = asdict(after)
    user.update(next_order_id=user["next_order_id"] + 1, last_active_slot=slot,
                cumulative_perp_funding=user["cumulative_perp_funding"] + funding)
    _move_market_totals(market, before, after)
    market["amm"]["total_fee"] += fee
    market["last_fill_price"] = price
    store.write(user_address, "User", user)
    store.write(market_address, "PerpMarket", market)
    side = "Long" if long else "Short"
    return (f"place_perp_order: order {user['next_order_id'] - 1} filled on perp market "
            f"{market_index}: {side} {base} at {price} (oracle {oracle_at}), quote {quote}, "
            f"fee {fee}, realized pnl {pnl}, funding {funding}")


def _cancel_order(store: VelocityAccountStore, ix: DecodedInstruction, slot: int) -> str:
    user_address = _accounts(ix)["user"]
    user = store.decoded(user_address)
    order_id = ix.args["order_id"]
    if order_id is None:
        order_id = user["next_order_id"] - 1   # the program's get_last_order_id
    index = next((i for i, order in enumerate(user["orders"])
                  if order["order_id"] == order_id and order["status"] == "Open"), None)
    if index is None:
        return f"cancel_order: no open order {order_id}"   # the program logs it, no error
    user["orders"][index] = store.coder.blank("User")["orders"][index]
    user["open_orders"] = max(user["open_orders"] - 1, 0)
    user.update(has_open_order=user["open_orders"] > 0, last_active_slot=slot)
    store.write(user_address, "User", user)
    return f"cancel_order: order {order_id} cancelled"


# -- settling -----------------------------------------------------------------------------------

def _settle_pnl(store: VelocityAccountStore, ix: DecodedInstruction, slot: int) -> str:
    market_index = ix.args["market_index"]
    market_address, market = _perp_market(store, ix, market_index)
    user_address = _accounts(ix)["user"]
    user = store.decoded(user_address)
    index = next((i for i, p in enumerate(user["perp_positions"])
                  if p["market_index"] == market_index
                  and (p["base_asset_amount"] or p["quote_asset_amount"])), None)
    if index is None:
        raise _refuse(store, "UserHasNoPositionInMarket")
    before = _position(user["perp_positions"][index])
    position, funding = _settle_funding(market, before)
    pnl = perp_math.claimable_pnl(position, oracle_price(store, market))
    quote_index = store.profile.quote_spot_market_index
    spot = store.decoded(store.spot_market_address(quote_index))
    slot_index = _spot_slot(store, user, quote_index)
    spot_position = user["spot_positions"][slot_index]
    scaled = spot_math.scaled_balance(abs(pnl), spot["decimals"],
                                      spot["cumulative_deposit_interest"], round_up=pnl < 0)
    if pnl < 0 and scaled > spot_position["scaled_balance"]:
        raise _refuse(store, "InsufficientCollateralForSettlingPNL",
                      "Insufficient collateral for settling pnl (borrows not modelled)")
    spot_position.update(market_index=quote_index, scaled_balance=spot_position["scaled_balance"]
                         + (scaled if pnl >= 0 else -scaled))
    after = perp_math.replace(position, quote_asset_amount=position.quote_asset_amount - pnl,
                              settled_pnl=position.settled_pnl + pnl)
    user["perp_positions"][index] = asdict(after)
    user.update(settled_perp_pnl=user["settled_perp_pnl"] + pnl, last_active_slot=slot,
                cumulative_perp_funding=user["cumulative_perp_funding"] + funding)
    _move_market_totals(market, before, after)
    store.write(user_address, "User", user)
    store.write(market_address, "PerpMarket", market)
    return f"settle_pnl: {pnl} quote units settled from perp market {market_index}"


def _settle_funding_payment(store: VelocityAccountStore, ix: DecodedInstruction,
                            slot: int) -> str:
    user_address = _accounts(ix)["user"]
    user = store.decoded(user_address)
    paid = []
    for index, values in enumerate(user["perp_positions"]):
        if values["base_asset_amount"] == 0:
            continue
        market_address, market = _perp_market(store, ix, values["market_index"])
        before = _position(values)
        after, funding = _settle_funding(market, before)
        if funding == 0 and after == before:
            continue
        user["perp_positions"][index] = asdict(after)
        user["cumulative_perp_funding"] += funding
        _move_market_totals(market, before, after)
        store.write(market_address, "PerpMarket", market)
        paid.append(f"{funding} on perp market {values['market_index']}")
    store.write(user_address, "User", user)
    return "settle_funding_payment: " + (", ".join(paid) or "nothing owed")


# -- collateral ---------------------------------------------------------------------------------

def _spot_slot(store: VelocityAccountStore, user: dict[str, Any], market_index: int) -> int:
    positions = user["spot_positions"]
    for i, p in enumerate(positions):
        if p["market_index"] == market_index and p["scaled_balance"] > 0:
            return i
    for i, p in enumerate(positions):
        if p["scaled_balance"] == 0 and p["open_orders"] == 0:
            return i
    raise _refuse(store, "NoSpotPositionAvailable")


def _move_collateral(store: VelocityAccountStore, ix: DecodedInstruction, slot: int) -> str:
    market_index, amount = ix.args["market_index"], ix.args["amount"]
    depositing = ix.name == "deposit"
    accounts = _accounts(ix)
    market_address = store.spot_market_address(market_index)
    if market_address not in store.accounts or str(market_address) not in ix.accounts:
        raise _refuse(store, "SpotMarketNotFound",
                      f"spot market {market_index} is not among the instruction's accounts")
    if accounts["spot_market_vault"] != store.coder.address("spot_market_vault",
                                                           market_index=market_index):
        raise _refuse(store, "InvalidSpotMarketVault")
    market = store.decoded(market_address)
    user = store.decoded(accounts["user"])
    slot_index = _spot_slot(store, user, market_index)
    position = user["spot_positions"][slot_index]
    decimals, interest = market["decimals"], market["cumulative_deposit_interest"]
    if not depositing and ix.args["reduce_only"]:
        # a reduce-only withdrawal never borrows: at most what the deposit holds
        amount = min(amount, spot_math.token_amount(position["scaled_balance"], decimals,
                                                    interest))
    scaled = spot_math.scaled_balance(amount, decimals, interest, round_up=not depositing)
    if not depositing and scaled > position["scaled_balance"]:
        raise _refuse(store, "InsufficientCollateral",
                      "withdrawal beyond the deposit would borrow (borrows are not modelled)")
    sign = 1 if depositing else -1
    source, target = ((accounts["user_token_account"], accounts["spot_market_vault"])
                      if depositing else
                      (accounts["spot_market_vault"], accounts["user_token_account"]))
    _transfer(store, source, target, amount, market["mint"])
    position.update(market_index=market_index, balance_type="Deposit",
                    scaled_balance=position["scaled_balance"] + sign * scaled,
                    cumulative_deposits=position["cumulative_deposits"] + sign * amount)
    counter = "total_deposits" if depositing else "total_withdraws"
    user[counter] += amount
    user["last_active_slot"] = slot
    market["deposit_balance"] += sign * scaled
    store.write(accounts["user"], "User", user)
    store.write(market_address, "SpotMarket", market)
    return f"{ix.name}: {amount} base units of spot market {market_index}"


def _transfer(store: VelocityAccountStore, source: Pubkey, target: Pubkey, amount: int,
              mint: str) -> None:
    """The token program's transfer the instruction makes (checked as SPL Token would)."""
    accounts = [store.accounts.get(source), store.accounts.get(target)]
    if any(a is None or a.kind != "TokenAccount" or a.data[:32] != bytes(
            Pubkey.from_string(mint)) for a in accounts):
        raise _refuse(store, "InvalidUserAccount",
                      "a token account of the spot market's mint is expected on both sides")
    held = synthetic.token_amount(accounts[0].data)
    if held < amount:
        raise OnChainFailure("InsufficientFunds", f"the token account {source} holds {held}, "
                             f"less than {amount} (SPL Token)", code=TOKEN_INSUFFICIENT_FUNDS)
    store.update_data(source, synthetic.with_token_amount(accounts[0].data, held - amount))
    target_data = store.accounts[target].data
    store.update_data(target, synthetic.with_token_amount(
        target_data, synthetic.token_amount(target_data) + amount))


Effect = Callable[[VelocityAccountStore, DecodedInstruction, int], str]
EFFECTS: dict[str, Effect] = {
    "place_perp_order": _place_perp_order,
    "cancel_order": _cancel_order,
    "settle_pnl": _settle_pnl,
    "settle_funding_payment": _settle_funding_payment,
    "deposit": _move_collateral,
    "withdraw": _move_collateral,
}


def apply_velocity_instruction(store: Any, ix: DecodedInstruction, slot: int) -> str:
    """effects.ProgramEffect for Velocity's program."""
    if ix.name == "undecodable":
        raise _refuse(store, UNDECODABLE, f"{store.coder.error_message(UNDECODABLE)} "
                                          f"({ix.why_undecodable})")
    effect = EFFECTS.get(ix.name)
    if effect is None:
        return f"{ix.name}: recorded, no effect modelled"
    return effect(store, ix, slot)
