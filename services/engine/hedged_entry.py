"""Taking the carry on the hedge market: a short perp and the spot SOL it hedges, as two legs.

A short on SOL-PERP without the SOL to match is not delta-neutral, and the rebalancer would
undo it. So the engine buys the missing spot first, then shorts the perp; when the perp leg
fails for certain, it sells that spot back at once (design.md's partial execution flow), and
when the rollback fails, or the perp outcome is unknown, it stops and raises a critical alert:
one leg without the other needs a human.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from services.common.errors import DomainError, ErrorCode
from services.engine import commands, delta, orders
from services.engine.account import AccountView
from services.engine.orders import TradeRequest
from services.engine.trade_path import TradePath

log = logging.getLogger(__name__)
K = common_pb2
CERTAINLY_NOT_TRADED = {K.TRADE_STATUS_REJECTED, K.TRADE_STATUS_FAILED}


@dataclass(frozen=True)
class HedgeLegs:
    """What entering and leaving the carry both need: the trade path, the account, the hedge."""

    trade_path: TradePath
    account: Callable[[], Awaitable[AccountView]]
    hedge_market: str
    reserved_sol: Decimal
    min_trade_size_sol: Decimal


class HedgedEntry:
    def __init__(
        self, legs: HedgeLegs, critical_stop: Callable[[str], Awaitable[None]]
    ) -> None:
        self._legs = legs
        self._critical_stop = critical_stop

    def applies_to(self, request: TradeRequest) -> bool:
        return (request.kind == K.TRADE_KIND_PERP_OPEN and request.side == K.SIDE_SHORT
                and request.market == self._legs.hedge_market and request.source == "user")

    async def open(self, request: TradeRequest) -> engine_pb2.CommandResult:
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
            refused.error.details["spot_leg_buy_sol"] = str(spot)
            return refused
        spot_leg = _swap(f"{request.request_id}:spot", K.SIDE_LONG, spot, "user")
        bought = await self._legs.trade_path.execute(spot_leg)
        if not bought.ok:
            code = ErrorCode._value2member_map_.get(bought.error.code, ErrorCode.VENUE_REJECTED)
            return orders.failure(request.request_id, request.action, DomainError(
                ErrorCode(code),
                f"the spot leg (buy {spot} SOL) failed, nothing was shorted: "
                f"{bought.error.message}"))
        shorted = await self._legs.trade_path.execute(request)
        if shorted.ok:
            shorted.message = f"{shorted.message}; spot leg bought {bought.order.filled_size} SOL"
            return shorted
        return await self._unwind(request, shorted, Decimal(bought.order.filled_size or spot))

    async def _unwind(
        self, request: TradeRequest, shorted: engine_pb2.CommandResult, spot: Decimal
    ) -> engine_pb2.CommandResult:
        if shorted.order.status not in CERTAINLY_NOT_TRADED and shorted.HasField("order"):
            message = (f"the perp leg's outcome is unknown after buying {spot} SOL: the engine "
                       "stopped; verify the position at the venue before trading again")
            await self._critical_stop(message)
            shorted.message = message
            return shorted
        rollback = _swap(f"{request.request_id}:rollback", K.SIDE_SHORT, spot, "rollback")
        sold = await self._legs.trade_path.execute(rollback)
        if sold.ok:
            log.error("perp leg failed; spot leg rolled back", extra={
                "request_id": request.request_id, "spot_sol": str(spot),
                "code": shorted.error.code})
            shorted.error.message = (f"{shorted.error.message} (the {spot} SOL bought for it "
                                     "were sold back)")
            return shorted
        message = (f"the perp leg failed and selling back {spot} SOL failed too "
                   f"({sold.error.code}: {sold.error.message}): the engine stopped; the wallet "
                   "holds unhedged SOL and needs a human")
        await self._critical_stop(message)
        shorted.error.message = f"{shorted.error.message}; {message}"
        return shorted


def _swap(request_id: str, side: int, size: Decimal, source: str) -> TradeRequest:
    kind = K.TRADE_KIND_SPOT_BUY if side == K.SIDE_LONG else K.TRADE_KIND_SPOT_SELL
    return TradeRequest(request_id, commands.SWAP, kind, "SOL", side, size, source=source,
                        confirmed=True)


class HedgedExit:
    """Leaving the carry: close the short, then sell the spot SOL it hedged (never the gas
    reserve). A spot sale that fails leaves the close done and says so: the wallet then holds
    unhedged SOL, which the answer and a WARNING alert name."""

    def __init__(self, legs: HedgeLegs, warn: Callable[[str], None]) -> None:
        self._legs = legs
        self._warn = warn

    def applies_to(self, request: TradeRequest) -> bool:
        return (request.kind == K.TRADE_KIND_PERP_CLOSE and request.unwind_spot
                and request.market == self._legs.hedge_market and request.source == "user")

    async def close(self, request: TradeRequest) -> engine_pb2.CommandResult:
        account = await self._legs.account()
        short = -min(account.signed_size(self._legs.hedge_market), Decimal(0))
        spot = min(short, max(account.wallet_sol - self._legs.reserved_sol, Decimal(0)))
        if spot < self._legs.min_trade_size_sol:
            return await self._legs.trade_path.execute(request)
        refused = await self._legs.trade_path.preview(request)
        if refused is not None:
            refused.error.details["spot_leg_sell_sol"] = str(spot)
            return refused
        closed = await self._legs.trade_path.execute(request)
        if not closed.ok:
            return closed
        sold = await self._legs.trade_path.execute(
            _swap(f"{request.request_id}:spot", K.SIDE_SHORT, spot, "user"))
        if sold.ok:
            closed.message = f"{closed.message}; spot leg sold {sold.order.filled_size} SOL"
        else:
            warning = (f"the short is closed but selling its {spot} SOL spot leg failed "
                       f"({sold.error.code}: {sold.error.message}); the wallet holds it unhedged")
            self._warn(warning)
            closed.message = f"{closed.message}; {warning}"
        return closed
