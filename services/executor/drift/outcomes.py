"""How a live order ends, written to the order journal before it is answered: filled, refused
(nothing sent), failed on chain, or unknown (a human checks the signature)."""

from __future__ import annotations

import logging
from dataclasses import replace

from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderIntent, OrderResult, OrderStatus
from services.executor.drift.confirmation import Landing
from services.executor.drift.order_log import SentOrder
from services.executor.order_journal import OrderJournal

log = logging.getLogger(__name__)


class Outcomes:
    def __init__(self, journal: OrderJournal[SentOrder], clock: Clock) -> None:
        self._journal = journal
        self._clock = clock

    def final(self, record: SentOrder, result: OrderResult) -> SentOrder:
        record.result = result
        self._journal.put(record)
        return record

    def refused(self, intent: OrderIntent, error: DomainError,
                status: OrderStatus = OrderStatus.REJECTED) -> SentOrder:
        result = replace(OrderResult.refused(intent, error.code, error.message, status=status,
                                             at=self._clock.now()),
                         error_details=dict(error.details))
        record = SentOrder(result)
        self._journal.put(record)
        return record

    def landed_failed(self, record: SentOrder, landing: Landing) -> SentOrder:
        return self.final(record, replace(
            record.result, status=OrderStatus.FAILED, error_code=ErrorCode.VENUE_REJECTED,
            error_message=f"transaction {record.signature} failed on chain: {landing.error}; "
                          "nothing changed",
            error_details={"tx_signature": record.signature, "error": str(landing.error)}))

    def unknown(self, record: SentOrder, why: str) -> SentOrder:
        """Property 42: the outcome cannot be determined; a human checks the signature."""
        log.error("order outcome unknown", extra={
            "client_order_id": record.result.client_order_id, "tx_signature": record.signature,
            "reason": why})
        return self.final(record, replace(
            record.result, status=OrderStatus.UNKNOWN, error_code=ErrorCode.VENUE_UNAVAILABLE,
            error_message=f"{why}: the outcome of transaction {record.signature} is unknown; "
                          "verify it on an explorer before trading again",
            error_details={"tx_signature": record.signature,
                           "last_valid_block_height": str(record.last_valid_block_height)}))

    def filled(self, record: SentOrder, result: OrderResult) -> SentOrder:
        done = replace(result, status=OrderStatus.FILLED, tx_signature=record.signature,
                       executed_at=self._clock.now(), error_code="", error_message="",
                       error_details={})
        # Property 46: every executed trade logs timestamp, market, side, size, price, signature.
        log.info("fill", extra={
            "timestamp": done.executed_at.isoformat() if done.executed_at else "",
            "market": done.market, "side": done.side.value if done.side else "",
            "size": str(done.filled_size), "price": str(done.fill_price),
            "tx_signature": done.tx_signature, "client_order_id": done.client_order_id,
            "kind": done.kind.value, "fee": str(done.fee)})
        return self.final(record, done)
