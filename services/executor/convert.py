"""Proto <-> domain: parsing untrusted requests, and formatting answers for the wire."""

from __future__ import annotations

from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.executor.v1 import executor_pb2
from services.common.decimals import parse_decimal, to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.executor.domain import (
    AccountState,
    FundingPayment,
    OrderKind,
    OrderResult,
    OrderStatus,
    PositionState,
    Side,
    VenueStatus,
)

MAX_CLIENT_ORDER_ID = 128
MAX_MARKET = 40

_SIDE_FROM_PROTO = {common_pb2.SIDE_LONG: Side.LONG, common_pb2.SIDE_SHORT: Side.SHORT}
_SIDE_TO_PROTO = {Side.LONG: common_pb2.SIDE_LONG, Side.SHORT: common_pb2.SIDE_SHORT}
_KIND_TO_PROTO = {
    OrderKind.PERP_OPEN: common_pb2.TRADE_KIND_PERP_OPEN,
    OrderKind.PERP_CLOSE: common_pb2.TRADE_KIND_PERP_CLOSE,
    OrderKind.PERP_REBALANCE: common_pb2.TRADE_KIND_PERP_REBALANCE,
    OrderKind.SPOT_BUY: common_pb2.TRADE_KIND_SPOT_BUY,
    OrderKind.SPOT_SELL: common_pb2.TRADE_KIND_SPOT_SELL,
    OrderKind.DEPOSIT: common_pb2.TRADE_KIND_DEPOSIT,
    OrderKind.WITHDRAW: common_pb2.TRADE_KIND_WITHDRAW,
    OrderKind.SETTLE_PNL: common_pb2.TRADE_KIND_SETTLE_PNL,
}
_OPEN_KINDS = {
    common_pb2.TRADE_KIND_UNSPECIFIED: OrderKind.PERP_OPEN,
    common_pb2.TRADE_KIND_PERP_OPEN: OrderKind.PERP_OPEN,
    common_pb2.TRADE_KIND_PERP_REBALANCE: OrderKind.PERP_REBALANCE,
}
_STATUS_TO_PROTO = {
    OrderStatus.FILLED: common_pb2.TRADE_STATUS_FILLED,
    OrderStatus.REJECTED: common_pb2.TRADE_STATUS_REJECTED,
    OrderStatus.FAILED: common_pb2.TRADE_STATUS_FAILED,
    OrderStatus.PENDING: common_pb2.TRADE_STATUS_PENDING,
    OrderStatus.UNKNOWN: common_pb2.TRADE_STATUS_UNKNOWN,
}


# --- requests


def client_order_id(text: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DomainError(
            ErrorCode.MISSING_REQUEST_ID,
            "client_order_id is required: every order carries the caller's idempotency key",
        )
    if len(value) > MAX_CLIENT_ORDER_ID:
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"client_order_id is {len(value)} characters; at most {MAX_CLIENT_ORDER_ID}",
        )
    return value


def market(text: str) -> str:
    value = (text or "").strip()
    if not value:
        raise DomainError(ErrorCode.INVALID_MARKET, "market is required, e.g. 'SOL-PERP'")
    if len(value) > MAX_MARKET:
        raise DomainError(ErrorCode.INVALID_MARKET, f"market {value[:MAX_MARKET]!r}... is too long")
    return value


def side(value: int) -> Side:
    try:
        return _SIDE_FROM_PROTO[value]
    except KeyError:
        raise DomainError(
            ErrorCode.INVALID_DIRECTION,
            f"side must be SIDE_LONG or SIDE_SHORT, found {_side_name(value)}",
        ) from None


def size(text: str) -> Decimal:
    return parse_decimal(text, "size", code=ErrorCode.INVALID_SIZE, positive=True)


def amount(text: str) -> Decimal:
    return parse_decimal(text, "amount", code=ErrorCode.INVALID_AMOUNT, positive=True)


def price_limit(text: str) -> Decimal | None:
    if not (text or "").strip():
        return None
    return parse_decimal(text, "price_limit", positive=True)


def open_kind(value: int) -> OrderKind:
    try:
        return _OPEN_KINDS[value]
    except KeyError:
        name = common_pb2.TradeKind.Name(value) if value in _KIND_TO_PROTO.values() else value
        raise DomainError(
            ErrorCode.INVALID_ARGUMENT,
            f"kind must be TRADE_KIND_PERP_OPEN or TRADE_KIND_PERP_REBALANCE, found {name}",
        ) from None


def _side_name(value: int) -> str:
    try:
        return common_pb2.Side.Name(value)
    except ValueError:
        return str(value)


# --- answers


def _ratio(value: Decimal) -> str:
    return to_wire(value, 6) if value.is_finite() else to_wire(value)


def order_result(result: OrderResult) -> common_pb2.OrderResult:
    message = common_pb2.OrderResult(
        client_order_id=result.client_order_id,
        kind=_KIND_TO_PROTO[result.kind],
        status=_STATUS_TO_PROTO[result.status],
        market=result.market,
        side=_SIDE_TO_PROTO[result.side] if result.side else common_pb2.SIDE_UNSPECIFIED,
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


def rejected(
    cid: str, kind: OrderKind, market_name: str, error: DomainError, status: OrderStatus
) -> OrderResult:
    """A refusal made before the order reached the driver (malformed input, internal error)."""
    return OrderResult(
        client_order_id=cid,
        kind=kind,
        status=status,
        market=market_name,
        error_code=str(error.code),
        error_message=error.message,
    )


def _position(position: PositionState) -> common_pb2.Position:
    return common_pb2.Position(
        market=position.market,
        side=_SIDE_TO_PROTO[position.side],
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


def _payment(payment: FundingPayment) -> common_pb2.FundingPayment:
    return common_pb2.FundingPayment(
        payment_id=payment.payment_id,
        market=payment.market,
        period_start=to_timestamp(payment.period_start),
        rate_1h=to_wire(payment.rate_1h),
        side=_SIDE_TO_PROTO[payment.side],
        size=to_wire(payment.size),
        oracle_price=to_wire(payment.oracle_price),
        amount=to_wire(payment.amount),
    )


def account_state(state: AccountState) -> common_pb2.AccountState:
    return common_pb2.AccountState(
        account=state.account,
        sub_account=state.sub_account,
        venue=state.venue,
        collateral=to_wire(state.collateral),
        free_collateral=to_wire(state.free_collateral),
        equity=to_wire(state.equity),
        positions=[_position(p) for p in state.positions],
        health_ratio=_ratio(state.health_ratio),
        leverage=_ratio(state.leverage),
        margin_requirement=to_wire(state.margin_requirement),
        initial_margin_requirement=to_wire(state.initial_margin_requirement),
        quote_balance=to_wire(state.quote_balance),
        wallet=common_pb2.Wallet(usdc=to_wire(state.wallet_usdc), sol=to_wire(state.wallet_sol)),
        funding_payments=[_payment(p) for p in state.funding_payments],
        as_of=to_timestamp(state.as_of),
    )


def venue_status(status: VenueStatus) -> executor_pb2.GetVenueStatusResponse:
    reply = executor_pb2.GetVenueStatusResponse(
        venue=status.venue,
        connected=status.connected,
        latency_ms=status.latency_ms,
        trading_halted=status.trading_halted,
        halt_reason=status.halt_reason,
        account=status.account,
    )
    if status.as_of is not None:
        reply.as_of.CopyFrom(to_timestamp(status.as_of))
    return reply

