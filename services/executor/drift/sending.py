"""The send/confirm pipeline of a prepared live order: sign -> simulate (a failure is REJECTED,
never retried) -> the signature on disk -> send -> confirm -> read the outcome (a perp order's
fill from its position's change). Also the later look at a signature an earlier call or run
left unresolved: landed, failed on chain, expired, or still unknown; never a second send."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from services.common.account_layouts import AccountLayoutError
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderIntent, OrderKind, OrderResult, OrderStatus, Side
from services.executor.drift.account_view import BASE, base, quote
from services.executor.drift.link import LinkDown
from services.executor.drift.order_log import SentOrder
from services.executor.drift.order_prep import Prepared
from services.executor.drift.outcomes import Outcomes
from services.executor.drift.session import VenueSession
from services.executor.drift.venue_view import VenueView
from services.executor.order_journal import OrderJournal
from services.executor.order_record import NOT_FINAL

log = logging.getLogger(__name__)

ZERO = Decimal(0)
PERP_KINDS = (OrderKind.PERP_OPEN, OrderKind.PERP_REBALANCE, OrderKind.PERP_CLOSE)


class OrderSender:
    def __init__(self, session: VenueSession, journal: OrderJournal[SentOrder],
                 outcomes: Outcomes, *, sleep: Callable[[float], Awaitable[None]],
                 monotonic: Callable[[], float]) -> None:
        self._session = session
        self._journal = journal
        self._outcomes = outcomes
        self._sleep = sleep
        self._monotonic = monotonic

    async def execute(self, intent: OrderIntent,
                      prepare: Callable[[], Awaitable[Prepared]]) -> SentOrder:
        outcomes = self._outcomes
        try:
            prepared = await prepare()
        except DomainError as error:
            # Unreachable venue: FAILED, so the same id may be tried again once it is back.
            transient = error.code == ErrorCode.VENUE_UNAVAILABLE
            return outcomes.refused(intent, error,
                                    OrderStatus.FAILED if transient else OrderStatus.REJECTED)
        except LinkDown as down:
            return outcomes.refused(intent, DomainError(ErrorCode.VENUE_UNAVAILABLE, str(down)),
                                    OrderStatus.FAILED)
        except AccountLayoutError as error:  # a read of driftpy's outside session.read
            return outcomes.refused(intent, DomainError(
                ErrorCode.VENUE_UNAVAILABLE, self._session.refuse_layout(error)),
                OrderStatus.FAILED)
        try:
            return await self.execute_prepared(prepared)
        except Exception:
            log.error("live order failed unexpectedly", exc_info=True,
                      extra={"client_order_id": intent.client_order_id})
            current = self._journal.get(intent.client_order_id)
            if current is not None and current.signature:
                return outcomes.unknown(current, "the executor failed while confirming; verify "
                                        "the transaction")
            return outcomes.refused(intent, DomainError(
                ErrorCode.INTERNAL, "the executor failed before sending; nothing was sent"),
                OrderStatus.FAILED)

    async def execute_prepared(self, prepared: Prepared) -> SentOrder:
        pipeline, outcomes, timing = self._session.pipeline, self._outcomes, self._session.timing
        assert pipeline is not None
        record = prepared.record
        intent = OrderIntent(record.result.client_order_id, record.result.kind,
                             record.result.market, record.result.side,
                             record.result.requested_size)
        try:
            signed = prepared.signed or await pipeline.sign(prepared.instructions or [],
                                                            self._session.lookup_tables)
            simulation = await pipeline.simulate(signed)
        except LinkDown as down:
            return outcomes.refused(intent, DomainError(ErrorCode.VENUE_UNAVAILABLE, str(down)),
                                    OrderStatus.FAILED)
        if not simulation.ok:
            # Property 10: rejected, nothing sent, no retry.
            return outcomes.refused(intent, DomainError(
                ErrorCode.VENUE_REJECTED, f"transaction simulation failed: "
                f"{simulation.summary()}", simulation_error=simulation.error))
        record.signature = signed.signature
        record.blockhash = signed.blockhash
        record.last_valid_block_height = signed.last_valid_block_height
        record.result = replace(record.result, tx_signature=signed.signature)
        self._journal.put(record)  # the signature is on disk before the transaction leaves
        sent = await pipeline.send(signed)
        if sent.landing is None:
            return outcomes.refused(intent, DomainError(
                ErrorCode.VENUE_REJECTED, f"the RPC node refused the transaction: {sent.refused}"))
        landing = sent.landing
        if landing.outcome == "unknown":
            waited = timing.confirm.wait + timing.confirm.poll_total
            return outcomes.unknown(record, f"no confirmation after {waited:.0f} s")
        if landing.outcome == "failed":
            return outcomes.landed_failed(record, landing)
        return await prepared.finish(record)

    # --- later looks at a signature

    async def until_final(self, record: SentOrder) -> SentOrder:
        """An order an earlier run left unresolved, looked up until it is final."""
        while True:
            record = await self.recheck(record)
            if record.result.status not in NOT_FINAL:
                return record
            await self._sleep(self._session.timing.recheck_every)

    async def recheck(self, stored: SentOrder) -> SentOrder:
        """One look at an earlier signature: landed, failed, or (still) unknown."""
        confirmer, pipeline = self._session.confirmer, self._session.pipeline
        assert confirmer is not None and pipeline is not None
        try:
            landed = await confirmer.status(stored.signature)
            if landed is None:
                if not await pipeline.blockhash_expired(stored.last_valid_block_height):
                    return stored  # it can still land: never sign a second one now
                return self._outcomes.final(stored, replace(
                    stored.result, status=OrderStatus.FAILED,
                    error_code=ErrorCode.VENUE_REJECTED,
                    error_message=f"transaction {stored.signature} never landed and its "
                                  "blockhash has expired: nothing traded",
                    error_details={"tx_signature": stored.signature}))
        except Exception:
            log.warning("could not look up an earlier signature", exc_info=True,
                        extra={"tx_signature": stored.signature})
            return stored
        if landed.outcome == "failed":
            return self._outcomes.landed_failed(stored, landed)
        if stored.result.kind in PERP_KINDS and stored.extra.get("market_index"):
            try:
                return await self.perp_done(stored)
            except Exception:
                log.error("fill of a late-confirmed order not readable", exc_info=True)
        return self._outcomes.final(stored, replace(
            stored.result, status=OrderStatus.FILLED, filled_size=stored.result.requested_size,
            error_code="", error_message="", error_details={}))

    # --- reading a perp order's fill

    async def perp_done(self, record: SentOrder) -> SentOrder:
        """After the order landed: waits for its fill (the position moves) until its max_ts."""
        session = self._session
        assert session.view is not None
        view, index = session.view, int(record.extra["market_index"])
        deadline = self._monotonic() + session.timing.fill_wait
        wanted = int((record.result.requested_size or ZERO) * BASE)
        moved, quote_moved = 0, 0
        while True:
            try:
                await session.read("fill", lambda: view.refresh((index,)))
            except DomainError:
                return self._outcomes.unknown(record, "the order landed but its fill could not "
                                              "be read (the RPC link dropped)")
            position = view.user.get_perp_position(index)
            moved = (position.base_asset_amount if position else 0) - (record.base_before or 0)
            quote_moved = (position.quote_asset_amount if position else 0) - \
                (record.quote_before or 0)
            if abs(moved) >= wanted or self._monotonic() >= deadline:
                break
            await self._sleep(session.timing.fill_poll)
        if moved == 0:
            return self._outcomes.final(record, replace(
                record.result, status=OrderStatus.FAILED, error_code=ErrorCode.VENUE_REJECTED,
                error_message=f"the market order landed ({record.signature}) but did not fill "
                              "before it expired; nothing traded",
                error_details={"tx_signature": record.signature}))
        return self._outcomes.filled(record, fill_from_moves(view, record, moved, quote_moved))


def fill_from_moves(view: VenueView, record: SentOrder, moved: int,
                    quote_moved: int) -> OrderResult:
    """Size and price from the position's change, less the venue's taker fee (charged in the
    quote asset amount)."""
    size = base(abs(moved))
    side = Side.LONG if moved > 0 else Side.SHORT
    effective = quote(abs(quote_moved)) / size
    rate = view.taker_fee_rate(int(record.extra["market_index"]))
    price = effective / (1 + rate) if side is Side.LONG else effective / (1 - rate)
    price = price.quantize(Decimal("0.000001"))
    oracle = Decimal(record.extra.get("oracle_price", "0")) or price
    notional = size * price
    return replace(record.result, status=OrderStatus.FILLED, side=side, filled_size=size,
                   fill_price=price, oracle_price=oracle,
                   slippage=side.sign * (price - oracle) / oracle,
                   fee=(notional * rate).quantize(Decimal("0.000001")), notional=notional)
