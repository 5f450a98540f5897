"""The campaign's invariants. After every step: (a) no order executes twice, (d) no user
position resized or hedge flipped by a rebalance (and a rebalance leaves the carry neutral and
keeps its cooldown), (e) trading blocked while an outcome is unknown. After the final heal
also: (b) the vault's ledger equals the venue's fills, (c) no leg without its hedge unless an
alert names it, (f) the vault's positions equal the venue's; and no op hangs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.common.venue import OrderKind, OrderStatus
from services.engine.settings import EngineSettings
from services.executor.paper_state import StateFile
from services.vault.domain import TradeState
from sim.events import alerts
from sim.vault_reader import BookedTrade, VaultReader
from sim.venue import Execution
from sim.world import SUB_ACCOUNT, World

UNRESOLVED = (TradeState.PENDING.value, TradeState.UNKNOWN.value)
ZERO = Decimal(0)
# The engine starts the cooldown when a rebalance is done (after its fill), so fills are a
# whole cooldown apart however long a stormy one took: no slack.
COOLDOWN_SLACK = timedelta(0)


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class Checker:
    def __init__(self, world: World, reader: VaultReader, settings: EngineSettings) -> None:
        self._world = world
        self._reader = reader
        self._settings = settings
        self._seen_executions = 0
        self._last_rebalance: datetime | None = None
        self.found: dict[tuple[str, str], Violation] = {}

    def _add(self, kind: str, detail: str) -> None:
        self.found.setdefault((kind, detail), Violation(kind, detail))

    def after_step(self) -> None:
        self._executions()
        self._trading_blocked_while_unknown()

    def at_end(self) -> None:
        self.after_step()
        venue = StateFile(self._world.executor.settings.paper_state_path).load()
        assert venue is not None
        self._ledger(venue, self._reader.trades())
        self._hedges()
        self._positions(venue)
        for op in self._world.stuck:
            self._add("hang", f"{op} never finished, its engine alive")

    # --- (a), (d) and the rebalance's own result ---------------------------------------------

    def _executions(self) -> None:
        venue = self._world.venue
        for client_order_id in venue.doubled:
            self._add("double_execution", f"{client_order_id} executed twice at the venue")
        legs = Counter((e.root, e.kind, e.side) for e in venue.executions)
        for (root, kind, side), count in legs.items():
            if count > 1:
                self._add("double_execution",
                          f"command {root}: {kind} {side} executed {count} times")
        for execution in venue.executions[self._seen_executions:]:
            if execution.kind is OrderKind.PERP_REBALANCE:
                self._rebalance(execution)
                self._cooldown(execution)
        self._seen_executions = len(venue.executions)

    def _cooldown(self, e: Execution) -> None:
        cooldown = timedelta(seconds=self._settings.rebalance_cooldown_sec)
        if self._last_rebalance is not None and e.at - self._last_rebalance < (
                cooldown - COOLDOWN_SLACK):
            self._add("cooldown_broken", f"rebalance {e.client_order_id} filled "
                      f"{(e.at - self._last_rebalance).total_seconds():.0f} s after the last "
                      f"one; the cooldown is {cooldown.total_seconds():.0f} s")
        self._last_rebalance = e.at

    def _rebalance(self, e: Execution) -> None:
        before, after = e.hedge_before, e.hedge_after
        if before > 0:
            self._add("position_resized", f"rebalance {e.client_order_id} traded the user's "
                      f"SOL-PERP long: {before} -> {after}")
        elif before == 0:
            self._add("position_resized", f"rebalance {e.client_order_id} opened SOL-PERP "
                      f"{after} where no hedge was held")
        elif after > 0:
            self._add("position_resized", f"rebalance {e.client_order_id} flipped the hedge: "
                      f"{before} -> {after}")
        hedgeable = e.spot_after - self._settings.reserved_sol
        if hedgeable > 0 and after <= 0:
            drift = abs(hedgeable + after) / hedgeable * 100
            if drift > self._settings.drift_tolerance_pct:
                self._add("stale_rebalance", f"rebalance {e.client_order_id} left drift "
                          f"{drift:.1f}% (spot {e.spot_after}, perp {after}): planned on an "
                          "account that changed before it ran")

    # --- (e) ---------------------------------------------------------------------------------

    def _trading_blocked_while_unknown(self) -> None:
        engine = self._world.engine.engine
        if not self._world.engine.alive or engine is None or engine.blocked_reason():
            return
        for trade in self._reader.trades(UNRESOLVED):
            self._add("trading_not_blocked", f"{trade.client_order_id} is {trade.status} in "
                      "the vault and the engine trades on")

    # --- (b) ---------------------------------------------------------------------------------

    def _ledger(self, venue, trades: list[BookedTrade]) -> None:  # type: ignore[no-untyped-def]
        fills: dict[str, Decimal] = {}
        outcomes: dict[str, str] = {}
        for record in venue.orders.values():
            for result in (record.result, record.settlement):
                if result is None:
                    continue
                outcomes[result.client_order_id] = result.status.value
                if result.status is OrderStatus.FILLED:
                    fills[result.client_order_id] = result.filled_size or ZERO
        booked = {trade.client_order_id: trade for trade in trades}
        for client_order_id, size in fills.items():
            trade = booked.get(client_order_id)
            if trade is None:
                self._add("ledger_mismatch", f"{client_order_id} filled at the venue, absent "
                          "from the vault")
            elif trade.status != TradeState.FILLED:
                self._add("ledger_mismatch", f"{client_order_id} filled at the venue, "
                          f"{trade.status} in the vault")
            elif (trade.filled_size or ZERO) != size:
                self._add("ledger_mismatch", f"{client_order_id} filled {size} at the venue, "
                          f"{trade.filled_size} in the vault")
        for client_order_id, trade in booked.items():
            status = trade.status
            if status == TradeState.FILLED and client_order_id not in fills:
                at_venue = outcomes.get(client_order_id, "never received")
                self._add("ledger_mismatch", f"{client_order_id} FILLED in the vault, "
                          f"{at_venue} at the venue")
            elif status in UNRESOLVED:
                self._add("stuck_pending", f"{client_order_id} still {status} after healing "
                          f"(venue: {outcomes.get(client_order_id, 'never received')})")

    # --- (c) ---------------------------------------------------------------------------------

    def _hedges(self) -> None:
        filled = {e.client_order_id: e for e in self._world.venue.executions}
        for request_id, command in self._world.commands.items():
            if command.role == "hedge_entry":
                self._entry(request_id, filled)
            elif command.role == "hedge_exit":
                self._exit(request_id, filled)

    def _entry(self, request_id: str, filled: dict[str, Execution]) -> None:
        spot = filled.get(f"{request_id}:spot")
        perp = filled.get(request_id)
        rollback = filled.get(f"{request_id}:rollback")
        if (spot is not None and perp is None and rollback is None
                and not alerts(self._world.events, "CRITICAL", since=spot.moment)):
            self._add("naked_leg", f"{request_id}: spot bought ({spot.size} SOL), never "
                          "shorted nor sold back, and no CRITICAL alert")
        if perp is not None and rollback is not None:
            since = min(perp.moment, rollback.moment)
            if not alerts(self._world.events, "CRITICAL", since=since):
                self._add("naked_leg", f"{request_id}: short {perp.size} filled and its spot "
                          "sold back, and no CRITICAL alert")

    def _exit(self, request_id: str, filled: dict[str, Execution]) -> None:
        close = filled.get(request_id)
        if close is None or close.hedge_before >= 0 or f"{request_id}:spot" in filled:
            return
        hedged = min(-close.hedge_before, close.spot_before - self._settings.reserved_sol)
        if hedged < self._settings.min_trade_size_sol:
            return  # nothing to sell: the exit is the close alone
        events = self._world.events
        if not (alerts(events, "CRITICAL", close.moment) or alerts(events, "WARNING",
                                                                  close.moment)):
            self._add("naked_leg", f"{request_id}: short closed, its {hedged} SOL spot leg "
                      "never sold, and no alert")

    # --- (f) ---------------------------------------------------------------------------------

    def _positions(self, venue) -> None:  # type: ignore[no-untyped-def]
        account = venue.accounts.get(SUB_ACCOUNT)
        held = {market: position.signed_size for market, position in
                (account.positions.items() if account else ()) if position.signed_size != 0}
        booked = self._reader.positions()
        if held != booked:
            self._add("positions_differ", f"venue {_fmt(held)} vault {_fmt(booked)}")


def _fmt(positions: dict[str, Decimal]) -> str:
    return "{" + ", ".join(f"{m} {s}" for m, s in sorted(positions.items())) + "}"
