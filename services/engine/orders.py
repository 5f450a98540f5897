"""How a trade's answers are written back as CommandResults."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.common.venue_wire import KIND_FROM_PROTO, side_of
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest

K = common_pb2
SIDE_NAMES = {K.SIDE_LONG: "long", K.SIDE_SHORT: "short", K.SIDE_UNSPECIFIED: ""}
HEDGE_SPOT_MARKET = "SOL"
QUOTE_MARKET = "USDC"


def error_proto(error: DomainError) -> common_pb2.Error:
    return common_pb2.Error(code=error.code, message=error.message, details=error.details)


def now_stamp():  # type: ignore[no-untyped-def]
    return to_timestamp(datetime.now(UTC))


def success(
    request_id: str,
    action: str,
    message: str,
    order: common_pb2.OrderResult | None = None,
    settlement: common_pb2.OrderResult | None = None,
) -> engine_pb2.CommandResult:
    result = engine_pb2.CommandResult(
        request_id=request_id, action=action, ok=True, message=message,
        completed_at=now_stamp(), client_order_id=order.client_order_id if order else "",
    )
    if order is not None:
        result.order.CopyFrom(order)
    if settlement is not None:
        result.settlement.CopyFrom(settlement)
    return result


def failure(
    request_id: str,
    action: str,
    error: DomainError | common_pb2.Error,
    order: common_pb2.OrderResult | None = None,
) -> engine_pb2.CommandResult:
    proto = error_proto(error) if isinstance(error, DomainError) else error
    if not proto.code:
        proto = common_pb2.Error(code=ErrorCode.INTERNAL, message=proto.message or "failed")
    if not proto.message:
        proto.message = proto.code.replace("_", " ").lower()
    result = engine_pb2.CommandResult(
        request_id=request_id, action=action, ok=False, message=proto.message,
        completed_at=now_stamp(), client_order_id=order.client_order_id if order else "",
    )
    result.error.CopyFrom(proto)
    if order is not None:
        result.order.CopyFrom(order)
    return result


def from_order(
    request: TradeRequest,
    order: common_pb2.OrderResult,
    settlement: common_pb2.OrderResult | None = None,
) -> engine_pb2.CommandResult:
    """A CommandResult for the venue's answer: ok only when the order filled."""
    if order.status == K.TRADE_STATUS_FILLED:
        message = _filled_message(request, order)
        return success(request.request_id, request.action, message, order, settlement)
    error = common_pb2.Error()
    error.CopyFrom(order.error)
    if not error.code:
        error.code = (ErrorCode.VENUE_UNAVAILABLE if order.status == K.TRADE_STATUS_UNKNOWN
                      else ErrorCode.VENUE_REJECTED)
    if not error.message:
        error.message = f"the venue answered {K.TradeStatus.Name(order.status)}"
    return failure(request.request_id, request.action, error, order)


def order_from_trade(trade: common_pb2.Trade) -> common_pb2.OrderResult:
    """The stored outcome of an earlier request with this id, marked as a replay."""
    order = common_pb2.OrderResult(
        client_order_id=trade.client_order_id, kind=trade.kind, status=trade.status,
        market=trade.market, side=trade.side, requested_size=trade.requested_size,
        filled_size=trade.filled_size, fill_price=trade.price, fee=trade.fee,
        notional=trade.notional, tx_signature=trade.tx_signature, slippage=trade.slippage,
        replayed=True,
    )
    if trade.HasField("error"):
        order.error.CopyFrom(trade.error)
    if trade.HasField("updated_at"):
        order.executed_at.CopyFrom(trade.updated_at)
    return order


def _filled_message(request: TradeRequest, order: common_pb2.OrderResult) -> str:
    if order.kind == K.TRADE_KIND_SETTLE_PNL:
        return f"{request.action} done: {order.notional or '0'} USD of {order.market} PnL settled"
    if order.kind in (K.TRADE_KIND_DEPOSIT, K.TRADE_KIND_WITHDRAW):
        return f"{request.action} done: {order.filled_size} {order.market}"
    side = SIDE_NAMES.get(order.side, "")
    return " ".join(part for part in (
        f"{request.action} filled:", side, order.filled_size, order.market,
        f"at {order.fill_price}" if order.fill_price else "") if part)


def request_from_trade(trade: common_pb2.Trade) -> TradeRequest:
    """The request a stored intent came from, to answer it once its order is final."""
    kind = KIND_FROM_PROTO.get(trade.kind)
    if kind is None:
        raise DomainError(ErrorCode.INTERNAL, f"the vault holds {trade.client_order_id!r} with "
                          f"trade kind {trade.kind}, which this engine does not know")
    return TradeRequest(trade.client_order_id, ACTION_BY_KIND[kind], kind, trade.market,
                        side_of(trade.side), Decimal(trade.requested_size or "0"),
                        source=trade.source or "user")
