"""The venue's side of the truth: every execution the paper venue makes, seen at the moment it
happens (position and wallet before and after), whatever the engine later believes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.common.venue import OrderKind, OrderResult, OrderStatus, Side
from services.executor.paper_state import PaperVenueState

ORDER_METHODS = frozenset({"Deposit", "Withdraw", "OpenPosition", "ClosePosition", "SettlePnl",
                           "Swap"})
ZERO = Decimal(0)


@dataclass(frozen=True)
class Execution:
    moment: int
    at: datetime            # market time
    client_order_id: str
    kind: OrderKind
    side: Side | None
    size: Decimal
    hedge_before: Decimal   # signed size on the hedge market
    hedge_after: Decimal
    spot_before: Decimal    # SOL in the wallet
    spot_after: Decimal

    @property
    def root(self) -> str:
        """The command it belongs to: "<request id>" of "<request id>:spot" and the like."""
        return self.client_order_id.split(":", 1)[0]


def _holdings(state: PaperVenueState, sub_account: int, market: str) -> tuple[Decimal, Decimal]:
    """(signed position on `market`, SOL in the wallet), read from the venue's own state: an
    account_state() call costs a margin summary and settles funding, twice per order."""
    account = state.accounts.get(sub_account)
    position = account.positions.get(market) if account else None
    return (position.signed_size if position else ZERO), state.wallet_sol


def _fingerprint(result: OrderResult) -> tuple[Any, ...]:
    return (result.executed_at, result.filled_size, result.fill_price, result.tx_signature)


class VenueWatch:
    """Wraps each order delivered to the executor: a fill it had not made before is an
    execution; a different fill under a client order id already filled is a second one."""

    def __init__(self, moment: Callable[[], int], now: Callable[[], datetime],
                 hedge_market: str, sub_account: int, trace: list[str]) -> None:
        self._moment = moment
        self._now = now
        self._trace = trace
        self._hedge = hedge_market
        self._sub = sub_account
        self.executions: list[Execution] = []
        self.doubled: list[str] = []
        self._filled: dict[str, tuple[Any, ...]] = {}

    async def observe(self, callee: Any, method: str, request: Any,
                      handle: Callable[[], Awaitable[Any]]) -> Any:
        if callee.name != "executor" or method not in ORDER_METHODS:
            return await handle()
        driver = callee.driver
        hedge_before, spot_before = _holdings(driver._state, self._sub, self._hedge)
        reply = await handle()
        result = await driver.get_order(request.client_order_id)
        if result is None or result.status is not OrderStatus.FILLED:
            return reply
        fingerprint = _fingerprint(result)
        known = self._filled.get(result.client_order_id)
        if known == fingerprint:
            return reply  # a replay of the stored outcome
        if known is not None:
            self.doubled.append(result.client_order_id)
        self._filled[result.client_order_id] = fingerprint
        hedge_after, spot_after = _holdings(driver._state, self._sub, self._hedge)
        execution = Execution(
            moment=self._moment(), at=self._now(), client_order_id=result.client_order_id,
            kind=result.kind,
            side=result.side, size=result.filled_size or ZERO, hedge_before=hedge_before,
            hedge_after=hedge_after, spot_before=spot_before, spot_after=spot_after,
        )
        self.executions.append(execution)
        self._trace.append(
            f"    venue executed {execution.client_order_id}: {execution.kind} "
            f"{execution.side or ''} {execution.size} ({self._hedge} {hedge_before} -> "
            f"{hedge_after}, wallet SOL {spot_before} -> {spot_after})")
        return reply
