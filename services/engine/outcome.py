"""A command's answer in the engine's own terms, no protobuf: ok or refused (a Denial), with the
venue's order when one was sent. It becomes a CommandResult only where it leaves the engine
(outcome_wire.py), so the trade path, the hedged legs and the backtester speak the same types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.venue import AccountState, OrderKind, OrderResult, OrderStatus
from services.engine.trade_request import TradeRequest

if TYPE_CHECKING:
    from services.engine.confirmations import ConfirmationQuote


@dataclass(frozen=True)
class Denial:
    """Why a command did not do what it asked: a stable code and a sentence to act on."""

    code: str
    message: str
    details: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, error: DomainError) -> Denial:
        return cls(str(error.code), error.message, dict(error.details))


@dataclass(frozen=True)
class Outcome:
    request_id: str
    action: str
    ok: bool
    message: str
    completed_at: datetime
    error: Denial | None = None
    order: OrderResult | None = None
    settlement: OrderResult | None = None  # a close's PnL settlement
    confirmation: ConfirmationQuote | None = None  # the quote a refusal asks to confirm

    @property
    def status(self) -> OrderStatus | None:
        """The venue's status of the order; None when nothing was sent."""
        return self.order.status if self.order is not None else None

    @property
    def code(self) -> str:
        return self.error.code if self.error is not None else ""

    @property
    def replayed(self) -> bool:
        return self.order is not None and self.order.replayed


@dataclass(frozen=True)
class Sent:
    """The executor's answer to an order: its result, a close's settlement, and the account
    the fill left when the executor could say."""

    order: OrderResult
    settlement: OrderResult | None = None
    account: AccountState | None = None


class ExecutorUnreachable(Exception):
    """Every attempt to send failed in transport: the order may or may not have reached the
    venue."""


@dataclass(frozen=True)
class RecordedOrder:
    """The vault's record of one order: PENDING from its intent until its outcome is written."""

    order: OrderResult  # marked replayed: it is what an earlier attempt did
    source: str

    @property
    def status(self) -> OrderStatus:
        return self.order.status


def success(
    request_id: str, action: str, message: str,
    order: OrderResult | None = None, settlement: OrderResult | None = None,
) -> Outcome:
    return Outcome(request_id, action, True, message, datetime.now(UTC), order=order,
                   settlement=settlement)


def failure(
    request_id: str, action: str, error: DomainError | Denial,
    order: OrderResult | None = None, confirmation: ConfirmationQuote | None = None,
) -> Outcome:
    denial = Denial.of(error) if isinstance(error, DomainError) else error
    code = denial.code or ErrorCode.INTERNAL
    message = denial.message or (code.replace("_", " ").lower() if denial.code else "failed")
    return Outcome(request_id, action, False, message, datetime.now(UTC),
                   error=Denial(code, message, denial.details), order=order,
                   confirmation=confirmation)


def from_order(
    request: TradeRequest, order: OrderResult, settlement: OrderResult | None = None
) -> Outcome:
    """The venue's answer: ok only when the order filled."""
    if order.status is OrderStatus.FILLED:
        return success(request.request_id, request.action, _filled_message(request, order),
                       order, settlement)
    code = order.error_code or (ErrorCode.VENUE_UNAVAILABLE if order.status is
                                OrderStatus.UNKNOWN else ErrorCode.VENUE_REJECTED)
    message = (order.error_message
               or f"the venue answered TRADE_STATUS_{order.status.name}")
    return failure(request.request_id, request.action,
                   Denial(code, message, dict(order.error_details)), order)


def _filled_message(request: TradeRequest, order: OrderResult) -> str:
    if order.kind is OrderKind.SETTLE_PNL:
        return (f"{request.action} done: {to_wire(order.notional) or '0'} USD of "
                f"{order.market} PnL settled")
    if order.kind in (OrderKind.DEPOSIT, OrderKind.WITHDRAW):
        return f"{request.action} done: {to_wire(order.filled_size)} {order.market}"
    side = order.side.value if order.side is not None else ""
    return " ".join(part for part in (
        f"{request.action} filled:", side, to_wire(order.filled_size), order.market,
        f"at {to_wire(order.fill_price)}" if order.fill_price else "") if part)
