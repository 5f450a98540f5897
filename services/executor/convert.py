"""Proto <-> domain: parsing untrusted requests, and formatting answers for the wire."""

from __future__ import annotations

from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.executor.v1 import executor_pb2
from services.common import venue_wire
from services.common.decimals import parse_decimal
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import to_timestamp
from services.common.venue import (
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
    VenueStatus,
)

MAX_CLIENT_ORDER_ID = 128
MAX_MARKET = 40

_OPEN_KINDS = {
    common_pb2.TRADE_KIND_UNSPECIFIED: OrderKind.PERP_OPEN,
    common_pb2.TRADE_KIND_PERP_OPEN: OrderKind.PERP_OPEN,
    common_pb2.TRADE_KIND_PERP_REBALANCE: OrderKind.PERP_REBALANCE,
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
        return venue_wire.SIDE_FROM_PROTO[value]
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
        known = value in venue_wire.KIND_FROM_PROTO
        name = common_pb2.TradeKind.Name(value) if known else value
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

