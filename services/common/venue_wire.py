"""The venue's domain types (services/common/venue.py) to protobuf and back.

The executor writes its drivers' answers with these; the engine reads them back with these at
its client edge, so its decisions see the same Decimals and enums the drivers produced."""

from __future__ import annotations

from decimal import Decimal

from dne.common.v1 import common_pb2
from services.common.decimals import from_wire, to_wire
from services.common.timeutil import from_timestamp, is_set, to_timestamp
from services.common.venue import (
    AccountState,
    FundingPayment,
    OrderKind,
    OrderResult,
    OrderStatus,
    PositionState,
    Side,
)

SIDE_FROM_PROTO = {common_pb2.SIDE_LONG: Side.LONG, common_pb2.SIDE_SHORT: Side.SHORT}
SIDE_TO_PROTO = {Side.LONG: common_pb2.SIDE_LONG, Side.SHORT: common_pb2.SIDE_SHORT}
KIND_TO_PROTO = {
    OrderKind.PERP_OPEN: common_pb2.TRADE_KIND_PERP_OPEN,
    OrderKind.PERP_CLOSE: common_pb2.TRADE_KIND_PERP_CLOSE,
    OrderKind.PERP_REBALANCE: common_pb2.TRADE_KIND_PERP_REBALANCE,
    OrderKind.SPOT_BUY: common_pb2.TRADE_KIND_SPOT_BUY,
    OrderKind.SPOT_SELL: common_pb2.TRADE_KIND_SPOT_SELL,
    OrderKind.DEPOSIT: common_pb2.TRADE_KIND_DEPOSIT,
    OrderKind.WITHDRAW: common_pb2.TRADE_KIND_WITHDRAW,
    OrderKind.SETTLE_PNL: common_pb2.TRADE_KIND_SETTLE_PNL,
}
KIND_FROM_PROTO = {proto: kind for kind, proto in KIND_TO_PROTO.items()}
STATUS_TO_PROTO = {
    OrderStatus.FILLED: common_pb2.TRADE_STATUS_FILLED,
    OrderStatus.REJECTED: common_pb2.TRADE_STATUS_REJECTED,
    OrderStatus.FAILED: common_pb2.TRADE_STATUS_FAILED,
    OrderStatus.PENDING: common_pb2.TRADE_STATUS_PENDING,
    OrderStatus.UNKNOWN: common_pb2.TRADE_STATUS_UNKNOWN,
}
STATUS_FROM_PROTO = {proto: status for status, proto in STATUS_TO_PROTO.items()}


def side_proto(side: Side | None) -> int:
    return SIDE_TO_PROTO[side] if side is not None else common_pb2.SIDE_UNSPECIFIED


def side_of(value: int) -> Side | None:
    """SIDE_UNSPECIFIED (and any value this build does not know) reads as no side."""
    return SIDE_FROM_PROTO.get(value)


# --- answers, domain -> wire


def ratio_wire(value: Decimal) -> str:
    """A health ratio or a leverage: six places; a ratio without margin is Infinity."""
    return to_wire(value, 6) if value.is_finite() else to_wire(value)


def order_result_proto(result: OrderResult) -> common_pb2.OrderResult:
    message = common_pb2.OrderResult(
        client_order_id=result.client_order_id,
        kind=KIND_TO_PROTO[result.kind],
        status=STATUS_TO_PROTO[result.status],
        market=result.market,
        side=side_proto(result.side),
        requested_size=to_wire(result.requested_size),
        filled_size=to_wire(result.filled_size),
        fill_price=to_wire(result.fill_price),
        oracle_price=to_wire(result.oracle_price),
        slippage=to_wire(result.slippage, 12) if result.slippage is not None else "",
        fee=to_wire(result.fee),
        notional=to_wire(result.notional),
        tx_signature=result.tx_signature,
        replayed=result.replayed,
    )
    if result.error_code:
        message.error.CopyFrom(
            common_pb2.Error(code=result.error_code, message=result.error_message,
                             details=result.error_details)
        )
    if result.executed_at is not None:
        message.executed_at.CopyFrom(to_timestamp(result.executed_at))
    return message


def position_proto(position: PositionState) -> common_pb2.Position:
    return common_pb2.Position(
        market=position.market,
        side=SIDE_TO_PROTO[position.side],
        size=to_wire(position.size),
        entry_price=to_wire(position.entry_price),
        mark_price=to_wire(position.mark_price),
        unrealized_pnl=to_wire(position.unrealized_pnl),
        settled_pnl=to_wire(position.settled_pnl),
        total_pnl=to_wire(position.total_pnl),
        liq_price=to_wire(position.liq_price, 6) if position.liq_price is not None else "",
        notional=to_wire(position.notional),
        funding_pnl=to_wire(position.funding_pnl),
    )


def _payment_proto(payment: FundingPayment) -> common_pb2.FundingPayment:
    return common_pb2.FundingPayment(
        payment_id=payment.payment_id,
        market=payment.market,
        period_start=to_timestamp(payment.period_start),
        rate_1h=to_wire(payment.rate_1h),
        side=SIDE_TO_PROTO[payment.side],
        size=to_wire(payment.size),
        oracle_price=to_wire(payment.oracle_price),
        amount=to_wire(payment.amount),
    )


def account_state_proto(state: AccountState) -> common_pb2.AccountState:
    message = common_pb2.AccountState(
        account=state.account,
        sub_account=state.sub_account,
        venue=state.venue,
        collateral=to_wire(state.collateral),
        free_collateral=to_wire(state.free_collateral),
        equity=to_wire(state.equity),
        positions=[position_proto(p) for p in state.positions],
        health_ratio=ratio_wire(state.health_ratio),
        leverage=ratio_wire(state.leverage),
        margin_requirement=to_wire(state.margin_requirement),
        initial_margin_requirement=to_wire(state.initial_margin_requirement),
        quote_balance=to_wire(state.quote_balance),
        wallet=common_pb2.Wallet(usdc=to_wire(state.wallet_usdc), sol=to_wire(state.wallet_sol)),
        funding_payments=[_payment_proto(p) for p in state.funding_payments],
    )
    if state.as_of is not None:
        message.as_of.CopyFrom(to_timestamp(state.as_of))
    return message


def _optional(text: str) -> Decimal | None:
    """A decimal a trusted service wrote, or None where it left the field empty."""
    return Decimal(text) if text else None


# --- answers, wire -> domain (from a trusted service; a position or payment without a side
# holds nothing and is left out)


def _position_of(message: common_pb2.Position) -> PositionState | None:
    side = side_of(message.side)
    if side is None:
        return None
    return PositionState(
        market=message.market,
        side=side,
        size=from_wire(message.size),
        entry_price=from_wire(message.entry_price),
        mark_price=from_wire(message.mark_price),
        unrealized_pnl=from_wire(message.unrealized_pnl),
        settled_pnl=from_wire(message.settled_pnl),
        total_pnl=from_wire(message.total_pnl),
        liq_price=_optional(message.liq_price),
        notional=from_wire(message.notional),
        funding_pnl=from_wire(message.funding_pnl),
    )


def _payment_of(message: common_pb2.FundingPayment) -> FundingPayment | None:
    side = side_of(message.side)
    if side is None:
        return None
    return FundingPayment(
        payment_id=message.payment_id,
        market=message.market,
        period_start=from_timestamp(message.period_start),
        rate_1h=from_wire(message.rate_1h),
        side=side,
        size=from_wire(message.size),
        oracle_price=from_wire(message.oracle_price),
        amount=from_wire(message.amount),
    )


def account_state_of(message: common_pb2.AccountState) -> AccountState:
    """The executor's answer as the domain type its driver made it from; `as_of` unset (an
    answer from a build that did not send it) reads as None."""
    positions = [p for p in map(_position_of, message.positions) if p is not None]
    payments = [p for p in map(_payment_of, message.funding_payments) if p is not None]
    return AccountState(
        account=message.account,
        sub_account=message.sub_account,
        venue=message.venue,
        collateral=from_wire(message.collateral),
        free_collateral=from_wire(message.free_collateral),
        equity=from_wire(message.equity),
        health_ratio=from_wire(message.health_ratio),
        leverage=from_wire(message.leverage),
        margin_requirement=from_wire(message.margin_requirement),
        initial_margin_requirement=from_wire(message.initial_margin_requirement),
        quote_balance=from_wire(message.quote_balance),
        wallet_usdc=from_wire(message.wallet.usdc),
        wallet_sol=from_wire(message.wallet.sol),
        as_of=from_timestamp(message.as_of) if is_set(message.as_of) else None,
        positions=positions,
        funding_payments=payments,
    )


def order_result_of(message: common_pb2.OrderResult, asked: OrderKind | None = None
                    ) -> OrderResult:
    """The executor's (or the vault's) answer as the domain type; `asked`, the kind the caller
    sent, stands in for a kind the answer leaves unset. A status this build does not know reads
    as UNKNOWN: an answer nobody can read is not "nothing traded"."""
    kind = KIND_FROM_PROTO.get(message.kind, asked)
    if kind is None:
        raise ValueError(f"order {message.client_order_id!r} has trade kind {message.kind}, "
                         "which this build does not know")
    return OrderResult(
        client_order_id=message.client_order_id,
        kind=kind,
        status=STATUS_FROM_PROTO.get(message.status, OrderStatus.UNKNOWN),
        market=message.market,
        side=side_of(message.side),
        requested_size=_optional(message.requested_size),
        filled_size=_optional(message.filled_size),
        fill_price=_optional(message.fill_price),
        oracle_price=_optional(message.oracle_price),
        slippage=_optional(message.slippage),
        fee=_optional(message.fee),
        notional=_optional(message.notional),
        tx_signature=message.tx_signature,
        error_code=message.error.code,
        error_message=message.error.message,
        error_details=dict(message.error.details),
        executed_at=from_timestamp(message.executed_at) if is_set(message.executed_at) else None,
        replayed=message.replayed,
    )
