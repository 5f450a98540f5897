"""The engine's own hedged entry and exit (services/engine/hedged_entry.py), run on the backtest
venue: their legs go through the same gates and the paper venue's fills, and each leg's record
is kept here as the vault keeps it for the engine. So the backtest's carry enters, unwinds a
refused short and leaves exactly as the running engine does, by the same code."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import count

from services.backtest.gated_venue import SOL_MARKET, BacktestRefused, Venue
from services.common.errors import DomainError
from services.common.venue import OrderKind, Side
from services.engine import outcome
from services.engine.account import AccountView
from services.engine.engine_state import OpenEntry
from services.engine.hedged_entry import EntryJournal, HedgedEntry, HedgedExit, HedgeLegs
from services.engine.outcome import Outcome, RecordedOrder
from services.engine.settings import EngineSettings
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest

Reason = Callable[[TradeRequest], str]


class VenueOrders:
    """hedged_entry.Orders on the backtest venue: an order is gated, filled (or not) and
    answered as the trade path answers it; a preview asks the gates alone."""

    def __init__(self, venue: Venue, reason: Reason) -> None:
        self._venue = venue
        self._reason = reason
        self.records: dict[str, RecordedOrder] = {}

    async def execute(self, request: TradeRequest) -> Outcome:
        answer = await self._venue.submit(request, self._reason(request))
        if isinstance(answer, DomainError):
            return outcome.failure(request.request_id, request.action, answer)
        self.records[request.request_id] = RecordedOrder(answer.as_replayed(), request.source)
        return outcome.from_order(request, answer)

    async def preview(self, request: TradeRequest) -> Outcome | None:
        refused = await self._venue.preview(request)
        if refused is None:
            return None
        return outcome.failure(request.request_id, request.action, refused)

    async def leg(self, client_order_id: str) -> RecordedOrder | None:
        return self.records.get(client_order_id)


class CarryLegs:
    """The engine's HedgedEntry and HedgedExit on the hedge market, with an in-memory journal
    (paper fills are final at once, so an entry ends within its call)."""

    def __init__(self, venue: Venue, settings: EngineSettings, reason: Reason) -> None:
        self._venue = venue
        self._ids = count(1)
        self.orders = VenueOrders(venue, reason)
        self._open: dict[str, OpenEntry] = {}
        legs = HedgeLegs(
            trade_path=self.orders, account=self._account, hedge_market=SOL_MARKET,
            reserved_sol=venue.gas_reserve, min_trade_size_sol=settings.min_trade_size_sol)
        journal = EntryJournal(
            remember=lambda entry: self._open.__setitem__(entry.request_id, entry),
            forget=lambda request_id: self._open.pop(request_id, None),
            is_open=lambda request_id: request_id in self._open, leg=self.orders.leg)
        self._entry = HedgedEntry(legs, journal, critical_stop=self._critical_stop)
        self._exit = HedgedExit(legs, alert=lambda message: None)

    async def enter(self, size: Decimal) -> Outcome:
        request = self._user_request(OrderKind.PERP_OPEN, Side.SHORT, size)
        assert self._entry.applies_to(request)
        return await self._entry.open(request)

    async def leave(self) -> Outcome:
        request = self._user_request(OrderKind.PERP_CLOSE, None, Decimal(0), unwind_spot=True)
        assert self._exit.applies_to(request)
        return await self._exit.close(request)

    def _user_request(self, kind: OrderKind, side: Side | None, size: Decimal,
                      **fields: bool) -> TradeRequest:
        # A user's command, confirmed: the backtester has nobody to confirm a quote.
        return TradeRequest(f"backtest-carry-{kind.value}-{next(self._ids)}",
                            ACTION_BY_KIND[kind], kind, SOL_MARKET, side, size, source="user",
                            confirmed=True, **fields)

    async def _account(self) -> AccountView:
        return AccountView(await self._venue.account())

    async def _critical_stop(self, message: str) -> None:
        # The engine stops for a human here; a backtest has none, so the run ends saying why.
        raise BacktestRefused(f"{self._venue.now.isoformat()}: {message}")
