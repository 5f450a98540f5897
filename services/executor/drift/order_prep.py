"""Order preparation for the live venue: the checks and sizes each order kind needs before it
is signed, and the place-perp-order instruction. Reads the synced view; sends nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from solders.instruction import Instruction

from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderIntent, OrderResult, OrderStatus, Side
from services.executor.drift import venue_rules
from services.executor.drift.account_view import BASE, QUOTE, base, quote
from services.executor.drift.order_log import SentOrder
from services.executor.drift.transactions import Signed
from services.executor.drift.venue_view import PerpOrderParams, VenueView

ZERO = Decimal(0)
LIVE_MAX_LEVERAGE = Decimal(5)  # property 4, live venue

Finish = Callable[[SentOrder], Awaitable[SentOrder]]


@dataclass
class Prepared:
    """An order ready to sign: its instructions (or a prepared transaction) and how to read
    its outcome once it landed."""

    record: SentOrder
    finish: Finish
    instructions: list[Instruction] | None = None
    signed: Signed | None = None


def pending(intent: OrderIntent, now: datetime) -> SentOrder:
    """The record of an order about to be signed."""
    return SentOrder(OrderResult(
        client_order_id=intent.client_order_id, kind=intent.kind,
        status=OrderStatus.PENDING, market=intent.market, side=intent.side,
        requested_size=intent.size, executed_at=now))


def quote_units(view: VenueView, quote_market_index: int, amount: Decimal) -> int:
    decimals = view.spot_market(quote_market_index).decimals
    units = int((amount * Decimal(10**decimals)).to_integral_value(ROUND_DOWN))
    if units <= 0:
        raise DomainError(ErrorCode.INVALID_AMOUNT,
                          f"amount {amount} is below the venue's smallest unit")
    return units


def base_amount(view: VenueView, index: int) -> int:
    position = view.user.get_perp_position(index)
    return position.base_asset_amount if position else 0


def base_units(view: VenueView, index: int, size: Decimal) -> int:
    """The size on the market's order step; a size below its minimum is refused."""
    amm = view.perp_market(index).amm
    units = int((size * BASE).to_integral_value(ROUND_DOWN))
    step = max(amm.order_step_size, 1)
    units -= units % step
    if units <= 0 or units < amm.min_order_size:
        raise DomainError(ErrorCode.INVALID_SIZE,
                          f"size {size} is below the market's minimum order "
                          f"{base(max(amm.min_order_size, step))}")
    return units


def check_market(view: VenueView, index: int, symbol: str, *, increasing: bool) -> None:
    venue_rules.require_operation(view.state().exchange_status, venue_rules.PERP_ORDER,
                                  f"trade {symbol}")
    market = view.perp_market(index)
    venue_rules.require_market(symbol, index, venue_rules.variant(market.status),
                               venue_rules.variant(market.contract_type),
                               increasing=increasing)


def check_leverage(view: VenueView, symbol: str, units: int, oracle: Decimal) -> None:
    user = view.user
    collateral = quote(user.get_total_collateral())
    exposure = sum((base(abs(p.base_asset_amount)) * quote(view.perp_oracle(
        p.market_index).price) for p in view.user_account().perp_positions
        if p.base_asset_amount), ZERO)
    after = exposure + base(units) * oracle
    if collateral <= 0 or after / collateral > LIVE_MAX_LEVERAGE:
        leverage = after / collateral if collateral > 0 else Decimal("Infinity")
        raise DomainError(ErrorCode.LEVERAGE_LIMIT,
                          f"the {symbol} order would take leverage to {leverage:.2f}x; "
                          f"live trading allows at most {LIVE_MAX_LEVERAGE}x",
                          leverage=f"{leverage:.4f}")


@dataclass(frozen=True)
class PerpOrder:
    index: int
    side: Side
    units: int
    limit: Decimal
    oracle: Decimal
    reduce_only: bool


def perp_prepared(view: VenueView, intent: OrderIntent, order: PerpOrder, *,
                  now: datetime, fill_wait: float, finish: Finish) -> Prepared:
    """A market order on a perp, with what its fill is measured against later."""
    position = view.user.get_perp_position(order.index)
    record = pending(intent, now)
    record.base_before = position.base_asset_amount if position else 0
    record.quote_before = position.quote_asset_amount if position else 0
    record.extra = {"market_index": str(order.index), "oracle_price": str(order.oracle),
                    "price_limit": str(order.limit)}
    ix = view.perp_order_instruction(PerpOrderParams(
        index=order.index,
        long=order.side is Side.LONG,
        base_units=order.units,
        limit_price=int((order.limit * QUOTE).to_integral_value(ROUND_DOWN)),
        reduce_only=order.reduce_only,
        user_order_id=user_order_id(intent.client_order_id),
        # The order cannot fill after this: an unfilled market order expires on chain.
        max_ts=int(now.timestamp() + fill_wait),
    ))
    return Prepared(record, finish, [ix])


def user_order_id(client_order_id: str) -> int:
    """Drift's user_order_id is a u8 (1..255); derived from the client order id."""
    return hashlib.sha256(client_order_id.encode()).digest()[0] % 255 + 1
