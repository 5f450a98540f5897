"""Outcomes (outcome.py) written as the CommandResults the engine's clients and stream read."""

from __future__ import annotations

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from services.common.decimals import to_wire
from services.common.timeutil import to_timestamp
from services.common.venue_wire import order_result_proto
from services.engine.confirmations import ConfirmationQuote
from services.engine.outcome import Outcome


def command_result_proto(outcome: Outcome) -> engine_pb2.CommandResult:
    order = outcome.order
    result = engine_pb2.CommandResult(
        request_id=outcome.request_id, action=outcome.action, ok=outcome.ok,
        message=outcome.message, completed_at=to_timestamp(outcome.completed_at),
        client_order_id=order.client_order_id if order is not None else "",
    )
    if outcome.error is not None:
        result.error.CopyFrom(common_pb2.Error(
            code=outcome.error.code, message=outcome.error.message,
            details=dict(outcome.error.details)))
    if order is not None:
        result.order.CopyFrom(order_result_proto(order))
    if outcome.settlement is not None:
        result.settlement.CopyFrom(order_result_proto(outcome.settlement))
    if outcome.confirmation is not None:
        result.confirmation.CopyFrom(confirmation_proto(outcome.confirmation))
    return result


def confirmation_proto(quote: ConfirmationQuote) -> engine_pb2.Confirmation:
    return engine_pb2.Confirmation(
        confirmation_id=quote.confirmation_id, action=quote.action, market=quote.market,
        side=quote.side, size=quote.size, price=quote.price, notional=quote.notional,
        estimated_fees=quote.estimated_fees, valid_for_ms=quote.valid_for_ms,
        price_tolerance=to_wire(quote.price_tolerance),
        expires_at=to_timestamp(quote.expires_at),
    )
