"""The one path every trade takes, commands and rebalances alike:

validate -> trading enabled? -> gates -> vault intent (PENDING) -> executor order (client order
id = request id, transport errors retried with the same id) -> vault completion -> answer.
The same request id twice never trades twice: the stored outcome is answered instead."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from opentelemetry import trace

from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.metrics import GATE_BLOCKS, TRADE_HOP, TRADES
from services.common.telemetry import (
    ATTR_ACTION,
    ATTR_ERROR_CODE,
    ATTR_GATE_CODE,
    ATTR_GATE_DECISION,
    ATTR_MARKET,
    ATTR_REQUEST_ID,
    ATTR_RESULT_OK,
    ATTR_SIDE,
    ATTR_SIZE,
    ATTR_TX_SIGNATURE,
)
from services.common.venue import AccountState, OrderKind, OrderResult, OrderStatus
from services.engine import outcome
from services.engine.confirmations import ConfirmationBook, ConfirmationRefused
from services.engine.gates import GateDenied
from services.engine.outcome import ExecutorUnreachable, Outcome, RecordedOrder, Sent
from services.engine.preflight import ApprovedTrade, MarketTerms, Preflight, TradeContext
from services.engine.settings import EngineSettings
from services.engine.trade_request import TradeRequest

if TYPE_CHECKING:  # the clients: only their methods are called here
    from dne.feed.v1 import feed_pb2
    from services.engine.executor_orders import ExecutorOrders
    from services.engine.ledger import Ledger
    from services.engine.upstream import Upstream

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
NOT_FINAL = (OrderStatus.PENDING, OrderStatus.UNKNOWN)
# Writes an order's outcome: (request id, result, a close's settlement, the account the fill
# left or None).
Complete = Callable[[str, OrderResult, OrderResult | None, AccountState | None],
                    Awaitable[None]]


class TradePath:
    def __init__(
        self,
        *,
        settings: EngineSettings,
        upstream: Upstream,
        executor: ExecutorOrders,
        ledger: Ledger,
        preflight: Preflight,
        confirmations: ConfirmationBook,
        sub_account: int,
        blocked_reason: Callable[[], str],
        on_fill: Callable[[AccountState | None], None] = lambda account: None,
        funding_since: Callable[[], datetime | None] = lambda: None,
        complete: Complete | None = None,
    ) -> None:
        """`on_fill` is told of each fill before the vault records it, with the account the
        fill left when the executor's answer carried it (else None: the engine reads it, in
        parallel with that write). Orders ask for that account with funding payments from
        `funding_since()`, as the engine's own account reads do. `complete` writes an order's
        outcome, given that account too (the engine syncs the vault with it in the same
        call); by default the ledger writes the outcome alone."""
        self._settings = settings
        self._upstream = upstream
        self._executor = executor
        self._ledger = ledger
        self._preflight = preflight
        self._confirmations = confirmations
        self._sub_account = sub_account
        self._blocked_reason = blocked_reason
        self._on_fill = on_fill
        self._funding_since = funding_since
        self._complete: Complete = complete or self._complete_alone
        self._lock = asyncio.Lock()  # one trade at a time: gates see the state they guard
        # Sent, not yet confirmed by the venue (a live transaction still landing): request id ->
        # the request. Trading waits until each has its final outcome.
        self.awaiting: dict[str, TradeRequest] = {}
        self._told_unknown: set[str] = set()
        # Intents whose write the vault may or may not have made (its answer was lost).
        self.unsure_intents: dict[str, TradeRequest] = {}
        # The hedge market's price as the last gates read it: the update published after a
        # trade shows it instead of asking the feed again a few milliseconds later.
        self.hedge_price: Decimal | None = None

    async def execute(self, request: TradeRequest) -> Outcome:
        with tracer.start_as_current_span(f"trade {request.action}") as span:
            span.set_attributes({
                ATTR_ACTION: request.action, ATTR_REQUEST_ID: request.request_id,
                ATTR_MARKET: request.market, ATTR_SIZE: str(request.size),
                ATTR_SIDE: request.side.value if request.side else "",
            })
            result = await self._execute_locked(request)
            span.set_attribute(ATTR_RESULT_OK, result.ok)
            if result.code:
                span.set_attribute(ATTR_ERROR_CODE, result.code)
            if result.order is not None and result.order.tx_signature:
                span.set_attribute(ATTR_TX_SIGNATURE, result.order.tx_signature)
            return result

    async def _execute_locked(self, request: TradeRequest) -> Outcome:
        async with self._lock:
            try:
                return await self._execute(request)
            except GateDenied as denied:
                trace.get_current_span().set_attributes({
                    ATTR_GATE_DECISION: "denied", ATTR_GATE_CODE: str(denied.code)})
                GATE_BLOCKS.labels(reason=denied.code).inc()
                log.warning("trade blocked by a safety gate", extra={
                    "request_id": request.request_id, "action": request.action,
                    "gate": denied.decision.gate, "code": str(denied.code),
                    "reason": denied.message, **dict(denied.decision.details),
                })
                return outcome.failure(request.request_id, request.action, denied)
            except DomainError as error:
                log.info("trade refused", extra={"request_id": request.request_id,
                                                 "code": str(error.code), "reason": error.message})
                return _refusal(request, error)

    async def preview(self, request: TradeRequest) -> Outcome | None:
        """Runs the gates and the confirmation rule without trading: None when the trade would
        go ahead (its confirmation, if it needed one, is used up), else the refusal a real
        attempt would answer."""
        async with self._lock:
            try:
                blocked = self._blocked_reason()
                if blocked:
                    raise DomainError(ErrorCode.TRADING_DISABLED, f"trading is disabled: {blocked}")
                trade = self._preflight.evaluate(request, await self._context(request))
                self._confirmations.check(trade)
            except DomainError as error:
                return _refusal(request, error)
            return None

    async def _execute(self, request: TradeRequest) -> Outcome:
        # Blocked first: while disabled nothing is asked of the vault, not even a replay.
        blocked = self._blocked_reason()
        if blocked:
            raise DomainError(ErrorCode.TRADING_DISABLED, f"trading is disabled: {blocked}")
        with timed_hop("gates"):
            # The reads the gates need go out while the vault is asked about the request id:
            # both only read. The vault's answer still comes first (its refusal, or a stored
            # outcome, ends the trade before any gate), as when they were asked in turn.
            reading = asyncio.ensure_future(self._context(request))
            try:
                stored = await self._ledger.find(request.request_id)
            except BaseException:
                discard_read(reading)
                raise
            if stored is not None:
                discard_read(reading)
                return await self._answer_stored(request, stored)
            context = await reading
            trade = self._preflight.evaluate(request, context)
            trace.get_current_span().set_attribute(ATTR_GATE_DECISION, "approved")
            # After the gates: a confirmation is used up only by a trade that can go ahead.
            self._confirmations.check(trade)
        try:
            with timed_hop("intent"):
                stored, created = await self._ledger.record_intent(trade)
        except DomainError as error:
            if error.code == ErrorCode.VAULT_UNAVAILABLE:
                # The vault may have written it and lost only its answer: a PENDING intent
                # nobody will send. Trading waits until the vault says which.
                self.unsure_intents[request.request_id] = request
            raise
        if not created:
            return await self._answer_stored(request, stored)
        with timed_hop("executor"):
            sent = await self._send(trade)
        # The executor replays only what an earlier attempt of this very command sent (its
        # answer was lost; a request id seen before is answered from the vault, above): to the
        # caller this is the fresh fill, and the sync after it must run.
        order = replace(sent.order, replayed=False)
        if order.status is OrderStatus.PENDING:
            return self._await_confirmation(request, order)
        if order.status is OrderStatus.UNKNOWN:
            # A missing answer is not "nothing traded": trading waits until the venue says.
            self.awaiting[request.request_id] = request
        filled = order.status is OrderStatus.FILLED
        if filled:
            self._on_fill(sent.account)
        with timed_hop("vault"):
            await self._complete(request.request_id, order, sent.settlement,
                                 sent.account if filled else None)
        self._record_outcome(trade, order)
        return outcome.from_order(request, order, sent.settlement)

    async def _complete_alone(
        self, request_id: str, order: OrderResult, settlement: OrderResult | None,
        account: AccountState | None,
    ) -> None:
        await self._ledger.complete(request_id, order, settlement)

    async def _context(self, request: TradeRequest) -> TradeContext:
        (venue, account), (markets, price, hedge_price) = await asyncio.gather(
            self._upstream.venue_and_account(self._sub_account), self._market_reads(request))
        self.hedge_price = hedge_price
        return TradeContext(account, venue, markets, price, hedge_price)

    async def _market_reads(
        self, request: TradeRequest
    ) -> tuple[dict[str, MarketTerms], Decimal | None, Decimal | None]:
        """The markets table, the trade's price and the hedge market's: one feed call."""
        hedge = self._settings.hedge_market
        if request.is_swap:
            # The spot leg is priced on the hedge market: one price, both uses.
            price = await self._upstream.price(hedge)
            return {}, price, price
        if request.is_perp:
            markets, prices = await self._upstream.markets_with_prices(
                [request.market, hedge])
            return (markets, self._perp_price(request.market, prices.get(request.market)),
                    self._upstream.checked_price(hedge, prices.get(hedge)))
        if request.kind is OrderKind.SETTLE_PNL:
            return await self._upstream.markets(), None, None
        return {}, None, None

    def _perp_price(self, market: str, price: feed_pb2.Price | None) -> Decimal | None:
        """None for a market the feed does not price: the market gate names the problem (and
        a close must stay possible for a market the feed no longer prices)."""
        try:
            return self._upstream.checked_price(market, price)
        except DomainError as error:
            if error.code == ErrorCode.INVALID_MARKET:
                return None
            raise

    async def _send(self, trade: ApprovedTrade) -> Sent:
        """Sends the order. When every attempt failed in transport, the executor's own record
        says what happened; when it cannot be asked either, the outcome is UNKNOWN."""
        try:
            return await self._executor.send(trade, self._funding_since())
        except ExecutorUnreachable:
            pass
        request = trade.request
        try:
            found = await self._executor.lookup(request.request_id, request.kind)
        except DomainError:
            return Sent(_unknown(trade))
        if found is None:
            return Sent(_never_reached(request, trade))
        try:
            return Sent(found, await self._settlement_of(found))
        except DomainError:
            # Filled, its settlement not readable now: wait for both rather than record the
            # close without it (found by make sim, seed 4202).
            return Sent(replace(found, status=OrderStatus.PENDING))

    def _await_confirmation(self, request: TradeRequest, order: OrderResult) -> Outcome:
        """The venue took the order but has not confirmed it: the intent stays PENDING in the
        vault, trading waits, and the final outcome follows as a second COMMAND_RESULT."""
        self.awaiting[request.request_id] = request
        log.warning("order sent, awaiting confirmation", extra={
            "request_id": request.request_id, "tx_signature": order.tx_signature})
        return outcome.failure(request.request_id, request.action, DomainError(
            ErrorCode.ORDER_PENDING,
            f"sent as {order.tx_signature or 'a transaction'}; awaiting the venue's confirmation, "
            "the final result follows", tx_signature=order.tx_signature))

    async def resolve_awaiting(self) -> list[tuple[TradeRequest, Outcome]]:
        """Asks the venue about every order awaiting its outcome; answers those now final.
        An executor that cannot be asked leaves them waiting: no answer is not an answer."""
        resolved = []
        async with self._lock:
            for request_id, request in list(self.awaiting.items()):
                try:
                    order = await self._executor.lookup(request_id, request.kind)
                except DomainError:
                    break  # the executor is away: ask again next tick
                if order is None:
                    order = _never_reached(request)
                if order.status is OrderStatus.PENDING:
                    continue
                if order.status is OrderStatus.UNKNOWN:
                    # Said once (the answer raises the alert), then asked about every tick.
                    if request_id not in self._told_unknown:
                        self._told_unknown.add(request_id)
                        await self._ledger.complete(request_id, order)
                        resolved.append((request, outcome.from_order(request, order)))
                    continue
                settlement = await self._settlement_of(order)
                if not await self._ledger.complete(request_id, order, settlement):
                    continue  # kept in the outbox, which blocks trading on its own
                del self.awaiting[request_id]
                self._count_outcome(request, order)
                resolved.append((request, outcome.from_order(request, order)))
        return resolved

    async def settle_unsure_intents(self) -> None:
        """An intent the vault did write is settled like any PENDING one (never sent, so the
        executor will not know it); one it did not write is forgotten."""
        async with self._lock:
            for request_id, request in list(self.unsure_intents.items()):
                stored = await self._ledger.find(request_id)  # VAULT_UNAVAILABLE: next tick
                del self.unsure_intents[request_id]
                if stored is not None and stored.status in NOT_FINAL:
                    self.awaiting[request_id] = request

    async def resolve_pending_intents(self) -> int:
        """At start: intents a crash left PENDING (or UNKNOWN) are settled from the venue's
        own record; those the venue cannot be asked about yet wait, and block trading."""
        waiting = await self._ledger.unresolved()
        for record in waiting:
            request = TradeRequest.of_record(record.order, record.source)
            request_id = request.request_id
            try:
                order = await self._executor.lookup(request_id, request.kind)
            except DomainError:
                self.awaiting[request_id] = request
                continue
            if order is None:
                order = _never_reached(request)
            if order.status in NOT_FINAL:
                self.awaiting[request_id] = request
                continue
            settlement = await self._settlement_of(order)
            if not await self._ledger.complete(request_id, order, settlement):
                self.awaiting[request_id] = request
        return len(waiting)

    async def leg(self, client_order_id: str) -> RecordedOrder | None:
        """The vault's record of one order; None when it was never written (never sent)."""
        return await self._ledger.find(client_order_id)

    def _count_outcome(self, request: TradeRequest, order: OrderResult) -> tuple[str, str]:
        """Counts the outcome (dne_trades_total); answers its kind and status as counted."""
        kind, status = request.kind.value, order.status.value
        TRADES.labels(kind=kind, result=status).inc()
        return kind, status

    async def _answer_stored(self, request: TradeRequest, stored: RecordedOrder) -> Outcome:
        """A request id seen before: answer its outcome, resolving a PENDING one at the venue."""
        if stored.status in NOT_FINAL:
            try:
                return await self._resolve_stored(request, stored)
            except DomainError:
                self.awaiting[request.request_id] = request  # unresolved: blocks trading
                raise
        return outcome.from_order(request, stored.order)

    async def _resolve_stored(self, request: TradeRequest, stored: RecordedOrder) -> Outcome:
        found = await self._executor.lookup(request.request_id, request.kind)
        if found is not None and found.status in NOT_FINAL:
            return self._await_confirmation(request, found)
        if found is not None:
            order = replace(found, replayed=False)
        else:
            # Written as an intent, never received by the venue: nothing traded.
            never = _never_reached(request)
            order = replace(stored.order, status=never.status, error_code=never.error_code,
                            error_message=never.error_message, error_details={},
                            replayed=False)
        await self._ledger.complete(request.request_id, order, await self._settlement_of(order))
        return outcome.from_order(request, replace(order, replayed=True))

    async def _settlement_of(self, order: OrderResult) -> OrderResult | None:
        """A close resolved from the executor's record (its answer was lost) may have settled
        PnL too: the settlement is an order of its own there, under "<id>:settle"."""
        if order.kind is not OrderKind.PERP_CLOSE or order.status is not OrderStatus.FILLED:
            return None
        settlement = await self._executor.lookup(f"{order.client_order_id}:settle",
                                                 OrderKind.SETTLE_PNL)
        if settlement is None or settlement.status is not OrderStatus.FILLED:
            return None
        return settlement

    def _record_outcome(self, trade: ApprovedTrade, order: OrderResult) -> None:
        kind, status = self._count_outcome(trade.request, order)
        if order.status is OrderStatus.FILLED:
            log.info("trade executed", extra={
                "timestamp": datetime.now(UTC).isoformat(), "market": order.market,
                # Transfers have no side: the kind ("deposit", ...) says the direction.
                "side": order.side.value if order.side is not None else kind,
                "size": to_wire(order.filled_size),
                "price": to_wire(order.fill_price), "tx_signature": order.tx_signature,
                "request_id": trade.request.request_id, "source": trade.request.source,
            })
        else:
            log.warning("trade not filled", extra={
                "request_id": trade.request.request_id, "status": status,
                "code": order.error_code, "reason": order.error_message,
            })


@contextmanager
def timed_hop(name: str) -> Iterator[None]:
    """Times one hop of a trade into dne_engine_trade_hop_seconds, however it ends."""
    started = time.perf_counter()
    try:
        yield
    finally:
        TRADE_HOP.labels(hop=name).observe(time.perf_counter() - started)


def _refusal(request: TradeRequest, error: DomainError) -> Outcome:
    quote = error.quote if isinstance(error, ConfirmationRefused) else None
    return outcome.failure(request.request_id, request.action, error, confirmation=quote)


def _never_reached(request: TradeRequest, trade: ApprovedTrade | None = None) -> OrderResult:
    """The executor, with its order record loaded, does not know the id: never received, so
    nothing traded. FAILED (not REJECTED) is a legal end for a PENDING or UNKNOWN."""
    return OrderResult(
        client_order_id=request.request_id, kind=request.kind, status=OrderStatus.FAILED,
        market=request.order_market if trade is not None else "",
        side=trade.side if trade is not None else None,
        requested_size=trade.size if trade is not None else None,
        error_code=ErrorCode.VENUE_REJECTED,
        error_message="the order never reached the venue; nothing was traded")


def _unknown(trade: ApprovedTrade) -> OrderResult:
    request = trade.request
    return OrderResult(
        client_order_id=request.request_id, kind=request.kind, status=OrderStatus.UNKNOWN,
        market=request.order_market, side=trade.side, requested_size=trade.size,
        error_code=ErrorCode.VENUE_UNAVAILABLE,
        error_message="the executor could not be reached after every retry: the outcome is "
                      "unknown; verify the order before trading again")


def discard_read(task: asyncio.Future) -> None:  # type: ignore[type-arg]
    """Cancels reads nobody will use; their outcome is taken so no error is left unread."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
