"""Taking the carry on the hedge market: a short perp and the spot SOL it hedges, as two legs.

A short on SOL-PERP without the SOL to match is not delta-neutral, and the rebalancer would
undo it. So the engine buys the missing spot first, then shorts the perp; when the perp leg
certainly did not trade, it sells that spot back (design.md's partial execution flow); when the
sale fails too, it stops and raises a critical alert: one leg without the other needs a human.

An entry is written down (the engine state) before its first leg leaves and is driven from the
vault's record of its legs, so a leg still awaiting the venue, a cancelled caller or a restart
only pause it: each tick moves it on until it is at its end.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, Protocol

from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderKind, OrderStatus, Side
from services.engine import delta, outcome
from services.engine.account import AccountView
from services.engine.engine_state import OpenEntry
from services.engine.outcome import Outcome, RecordedOrder
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest

log = logging.getLogger(__name__)
NOT_FINAL = {OrderStatus.PENDING, OrderStatus.UNKNOWN}
REFUSED: Literal["refused"] = "refused"  # a leg the gates refused: nothing was written or sent
LegStatus = OrderStatus | Literal["refused"]


class Orders(Protocol):
    """What the legs are sent through: the engine's trade path, or the backtester's."""

    async def execute(self, request: TradeRequest) -> Outcome: ...

    async def preview(self, request: TradeRequest) -> Outcome | None: ...


@dataclass(frozen=True)
class HedgeLegs:
    """What entering and leaving the carry both need: the trade path, the account, the hedge."""

    trade_path: Orders
    account: Callable[[], Awaitable[AccountView]]
    hedge_market: str
    reserved_sol: Decimal
    min_trade_size_sol: Decimal


@dataclass(frozen=True)
class EntryJournal:
    """Where open entries are kept (persisted before a leg leaves) and how a leg's status is
    read from the vault (None: never written, so never sent)."""

    remember: Callable[[OpenEntry], None]
    forget: Callable[[str], None]
    is_open: Callable[[str], bool]
    leg: Callable[[str], Awaitable[RecordedOrder | None]]


class HedgedEntry:
    def __init__(
        self, legs: HedgeLegs, journal: EntryJournal,
        critical_stop: Callable[[str], Awaitable[None]],
    ) -> None:
        self._legs = legs
        self._journal = journal
        self._critical_stop = critical_stop

    def applies_to(self, request: TradeRequest) -> bool:
        return (request.kind is OrderKind.PERP_OPEN and request.side is Side.SHORT
                and request.market == self._legs.hedge_market and request.source == "user")

    async def open(self, request: TradeRequest) -> Outcome:
        ended = await self._ended(request)
        if ended is not None:
            return ended
        account = await self._legs.account()
        spot = delta.spot_to_buy(account.wallet_sol, self._legs.reserved_sol,
                                 account.signed_size(self._legs.hedge_market), request.size)
        if spot < self._legs.min_trade_size_sol:
            return await self._legs.trade_path.execute(request)
        # The gates and the confirmation speak about the trade the user asked for, before
        # any leg is sent.
        refused = await self._legs.trade_path.preview(request)
        if refused is not None:
            # The user confirms both legs: say how much spot SOL comes with the short.
            return _with_detail(refused, "spot_leg_buy_sol", spot)
        # Past the preview its confirmation is used up: the legs go ahead without another.
        entry = OpenEntry(request.request_id, request.market, str(request.size), str(spot),
                          confirmed=True)
        self._journal.remember(entry)
        result = await self.advance(entry)
        assert result is not None  # a fresh entry always has something to answer
        return result

    async def advance(self, entry: OpenEntry) -> Outcome | None:
        """Moves an entry as far as it can go now. Answers the command's result when this call
        decided something, None when nothing changed (a leg still awaits the venue)."""
        request = _short(entry)
        spot = Decimal(entry.spot_size)
        bought = await self._leg_status(_spot_id(entry))
        fresh: Outcome | None = None
        if bought is None:
            fresh = await self._legs.trade_path.execute(
                _swap(_spot_id(entry), Side.LONG, spot, "user"))
            bought = _status_of(fresh)
        if bought in NOT_FINAL:
            return _waiting(request, fresh, f"the spot leg (buy {spot} SOL) awaits the venue; "
                            "the short follows once it is bought") if fresh else None
        if bought is not OrderStatus.FILLED:
            self._journal.forget(entry.request_id)
            if fresh is None:
                return None
            return outcome.failure(request.request_id, request.action, DomainError(
                _code(fresh), f"the spot leg (buy {spot} SOL) failed, nothing was shorted: "
                f"{fresh.message}"))
        # What was bought is what is hedged, and what a rollback sells (fees and the venue's
        # step can make it differ from what was asked).
        spot = await self._bought(entry, fresh)
        if await self._leg_status(f"{request.request_id}:rollback") is not None:
            return await self._unwind(entry, request, None, spot)  # never short once unwinding
        shorted_status: LegStatus | None = REFUSED if entry.perp_refused else (
            await self._leg_status(request.request_id))
        shorted: Outcome | None = None
        if shorted_status is None:
            shorted = await self._legs.trade_path.execute(request)
            shorted_status = _status_of(shorted)
            if shorted_status is None:  # refused by the gates, nothing sent
                entry.perp_refused = True
                self._journal.remember(entry)
                shorted_status = REFUSED
        if shorted_status in NOT_FINAL:
            return _waiting(request, shorted, f"bought {spot} SOL; the short awaits the venue "
                            "(the SOL is sold back if the short fails)") if shorted else None
        if shorted_status is OrderStatus.FILLED:
            self._journal.forget(entry.request_id)
            if shorted is None:
                return None  # its final result was published when it resolved
            return replace(shorted, message=f"{shorted.message}; spot leg bought {spot} SOL")
        return await self._unwind(entry, request, shorted, spot)

    async def _unwind(
        self, entry: OpenEntry, request: TradeRequest,
        shorted: Outcome | None, spot: Decimal,
    ) -> Outcome | None:
        rollback_id = f"{request.request_id}:rollback"
        sold_status: LegStatus | None = await self._leg_status(rollback_id)
        sold: Outcome | None = None
        if sold_status is None:
            sold = await self._legs.trade_path.execute(
                _swap(rollback_id, Side.SHORT, spot, "rollback"))
            sold_status = _status_of(sold)
        why = shorted.message if shorted is not None else "the short did not trade"
        if sold_status in NOT_FINAL:
            return _waiting(request, sold, f"{why}; selling back the {spot} SOL awaits the "
                            "venue") if sold else None
        self._journal.forget(entry.request_id)
        if sold_status is OrderStatus.FILLED:
            log.error("perp leg failed; spot leg rolled back", extra={
                "request_id": request.request_id, "spot_sol": str(spot)})
            return outcome.failure(request.request_id, request.action, DomainError(
                _code(shorted) if shorted is not None else ErrorCode.VENUE_REJECTED,
                f"{why} (the {spot} SOL bought for it were sold back)"))
        reason = f"{sold.code}: {sold.message}" if sold is not None else "refused"
        message = (f"the short of {request.request_id} failed and selling back {spot} SOL "
                   f"failed too ({reason}): the engine stopped; the wallet holds unhedged SOL "
                   "and needs a human")
        await self._critical_stop(message)
        return outcome.failure(request.request_id, request.action, DomainError(
            ErrorCode.VENUE_REJECTED, f"{why}; {message}"))


    async def _ended(self, request: TradeRequest) -> Outcome | None:
        """The same request id again after its entry ended answers how it ended; it never
        opens the entry again (its spot leg would count as bought, and a short follow)."""
        if self._journal.is_open(request.request_id):
            return None
        spot_leg = await self._journal.leg(f"{request.request_id}:spot")
        if spot_leg is None:
            return None
        if await self._journal.leg(request.request_id) is not None:
            return await self._legs.trade_path.execute(request)  # the stored short, replayed
        rollback = await self._journal.leg(f"{request.request_id}:rollback")
        how = (f"its spot leg was {spot_leg.status.value}"
               + (f" and sold back ({rollback.status.value})" if rollback is not None else "")
               + "; no short was sent")
        return outcome.failure(request.request_id, request.action, DomainError(
            ErrorCode.DUPLICATE_ORDER,
            f"request id {request.request_id} belongs to a hedged entry that already ended: "
            f"{how}; nothing traded now (a new entry takes a new id)"))

    async def _leg_status(self, client_order_id: str) -> OrderStatus | None:
        stored = await self._journal.leg(client_order_id)
        return stored.status if stored is not None else None

    async def _bought(self, entry: OpenEntry, fresh: Outcome | None) -> Decimal:
        if fresh is not None and fresh.order is not None and fresh.order.filled_size:
            return fresh.order.filled_size
        stored = await self._journal.leg(_spot_id(entry))
        if stored is not None and stored.order.filled_size:
            return stored.order.filled_size
        return Decimal(entry.spot_size)


def _short(entry: OpenEntry) -> TradeRequest:
    return TradeRequest(entry.request_id, ACTION_BY_KIND[OrderKind.PERP_OPEN], OrderKind.PERP_OPEN,
                        entry.market, Side.SHORT, Decimal(entry.size), source="user",
                        confirmed=entry.confirmed)


def _spot_id(entry: OpenEntry) -> str:
    return f"{entry.request_id}:spot"


def _status_of(result: Outcome) -> OrderStatus | None:
    """The leg's venue status; None when it was refused before anything was written."""
    if result.order is not None:
        return result.order.status
    if result.code == ErrorCode.ORDER_PENDING:
        return OrderStatus.PENDING
    return None


def _code(result: Outcome) -> ErrorCode:
    return ErrorCode(ErrorCode._value2member_map_.get(result.code, ErrorCode.VENUE_REJECTED))


def _with_detail(result: Outcome, key: str, value: Decimal) -> Outcome:
    assert result.error is not None  # a refusal
    error = replace(result.error, details={**result.error.details, key: to_wire(value)})
    return replace(result, error=error)


def _waiting(request: TradeRequest, leg: Outcome, message: str) -> Outcome:
    """The command's answer while one of its legs awaits the venue. An unknown leg keeps its
    order (and so its critical alert with the signature)."""
    if leg.status is OrderStatus.UNKNOWN and leg.error is not None:
        text = f"{message}: {leg.message}"
        return replace(leg, request_id=request.request_id, action=request.action,
                       message=text, error=replace(leg.error, message=text))
    return outcome.failure(request.request_id, request.action,
                           DomainError(ErrorCode.ORDER_PENDING, f"{message}; the final result "
                                       "follows"))


def _swap(request_id: str, side: Side, size: Decimal, source: str) -> TradeRequest:
    kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
    return TradeRequest(request_id, ACTION_BY_KIND[kind], kind, "SOL", side, size, source=source,
                        confirmed=True)


class HedgedExit:
    """Leaving the carry: close the short, then sell the spot SOL it hedged (never the gas
    reserve). A spot sale that fails leaves the close done and says so: the wallet then holds
    unhedged SOL, which the answer and a CRITICAL alert name."""

    def __init__(self, legs: HedgeLegs, alert: Callable[[str], None]) -> None:
        self._legs = legs
        self._alert = alert

    def applies_to(self, request: TradeRequest) -> bool:
        return (request.kind is OrderKind.PERP_CLOSE and request.unwind_spot
                and request.market == self._legs.hedge_market and request.source == "user")

    async def close(self, request: TradeRequest) -> Outcome:
        account = await self._legs.account()
        spot = delta.spot_to_sell(account.wallet_sol, self._legs.reserved_sol,
                                  account.signed_size(self._legs.hedge_market))
        if spot < self._legs.min_trade_size_sol:
            return await self._legs.trade_path.execute(request)
        refused = await self._legs.trade_path.preview(request)
        if refused is not None:
            return _with_detail(refused, "spot_leg_sell_sol", spot)
        # The preview used up its confirmation: the close itself needs no other.
        closed = await self._legs.trade_path.execute(replace(request, confirmed=True))
        if not closed.ok:
            return closed
        sold = await self._legs.trade_path.execute(
            _swap(f"{request.request_id}:spot", Side.SHORT, spot, "user"))
        if sold.ok:
            sold_size = to_wire(sold.order.filled_size) if sold.order is not None else ""
            return replace(closed, message=f"{closed.message}; spot leg sold {sold_size} SOL")
        warning = (f"the short is closed but selling its {spot} SOL spot leg failed "
                   f"({sold.code}: {sold.message}); the wallet holds it unhedged")
        self._alert(warning)
        return replace(closed, message=f"{closed.message}; {warning}")
