"""The paper venue as a backtest's strategy sees it: the market of the hour, the account, and
orders that pass the engine's own gates (services/backtest/engine_gates.py) before the paper
venue fills them; a refused order is recorded and not traded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.backtest.data import BacktestData
from services.backtest.engine_gates import EngineGates
from services.backtest.ledger import ZERO, Refusal, TradeRecord
from services.backtest.market_data import BacktestMarketData, SimulatedClock
from services.common.errors import DomainError
from services.common.venue import (
    SPOT_MARKET,
    AccountState,
    OpenOrder,
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
)
from services.engine.delta import RebalancePlan
from services.engine.preflight import ApprovedTrade
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest
from services.executor.paper_driver import PaperDriver

SUB_ACCOUNT = 0
SOL_MARKET = "SOL-PERP"   # the paper venue values wallet SOL at SOL-PERP's oracle


class BacktestRefused(ValueError):
    """A trade the strategy needs was refused by the venue (the message says why)."""


@dataclass
class Venue:
    """The paper venue as a strategy sees it: the market at the hour, orders, the account.

    Each order passes the engine's gates first (`gates`; None: an ungated what-if): one they
    refuse is recorded in `refusals` and answered None, and nothing trades."""

    data: BacktestData
    clock: SimulatedClock
    market_data: BacktestMarketData
    driver: PaperDriver
    gates: EngineGates | None
    gas_reserve: Decimal = ZERO   # wallet SOL kept for fees, outside the capital
    trades: list[TradeRecord] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    events: int = 0
    _orders: int = 0

    @property
    def now(self) -> datetime:
        return self.clock.now

    async def account(self) -> AccountState:
        return await self.driver.account_state(SUB_ACCOUNT, funding_since=self.now)

    async def open(self, market: str, side: Side, size: Decimal,
                   reason: str) -> OrderResult | None:
        return await self._filled(self._request("open", OrderKind.PERP_OPEN, market, side, size),
                                  reason)

    async def close(self, market: str, reason: str) -> OrderResult | None:
        return await self._filled(self._request("close", OrderKind.PERP_CLOSE, market, None,
                                                ZERO), reason)

    async def rebalance(self, plan: RebalancePlan, market: str,
                        reason: str) -> OrderResult | None:
        """The engine's correction of the plan, as its rebalancer sends it."""
        self._orders += 1
        return await self._filled(plan.request(f"backtest-rebalance-{self._orders}", market),
                                  reason)

    async def swap(self, side: Side, size: Decimal, reason: str) -> OrderResult | None:
        kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
        return await self._filled(self._request("swap", kind, SPOT_MARKET, side, size), reason)

    async def submit(self, request: TradeRequest, reason: str) -> OrderResult | DomainError:
        """One order as the engine's trade path sends it: the gates of this hour (a refusal is
        recorded and answered as the gates' error, nothing trades), then the paper venue's
        answer, filled or not. A fill is recorded with `reason`."""
        approved = await self._gated(request)
        if isinstance(approved, DomainError):
            return approved
        result = await self._fill(approved)
        if result.status is OrderStatus.FILLED:
            self._note_trade(result, request.kind.value, reason)
        return result

    async def preview(self, request: TradeRequest) -> DomainError | None:
        """The gates' answer without trading (the engine's preview of a hedged entry): None
        when the order would go ahead; a refusal is recorded and answered."""
        gated = await self._gated(request)
        return gated if isinstance(gated, DomainError) else None

    async def would_pass(self, market: str, side: Side, size: Decimal) -> bool:
        """Would the engine's gates let this open through now? Nothing trades or is recorded:
        a strategy weighing its choices."""
        probe = self._request("probe", OrderKind.PERP_OPEN, market, side, size)
        return not isinstance(await self._gated(probe, record=False), DomainError)

    async def price(self, market: str) -> Decimal:
        return (await self.market_data.price(market)).oracle_price

    async def _filled(self, request: TradeRequest, reason: str) -> OrderResult | None:
        """submit() for a strategy that cannot go on without the fill: None when the gates
        refused it; BacktestRefused when the paper venue did not fill it."""
        result = await self.submit(request, reason)
        if isinstance(result, DomainError):
            return None
        if result.status is not OrderStatus.FILLED:
            raise BacktestRefused(
                f"{self.now.isoformat()}: {request.kind.value} {result.market} refused by the "
                f"paper venue: {result.error_code} {result.error_message}")
        return result

    def _request(self, what: str, kind: OrderKind, market: str, side: Side | None,
                 size: Decimal, **fields: Any) -> TradeRequest:
        self._orders += 1
        return TradeRequest(f"backtest-{what}-{self._orders}", ACTION_BY_KIND[kind], kind,
                            market, side, size, confirmed=True, **fields)

    async def _gated(self, request: TradeRequest, *,
                     record: bool = True) -> ApprovedTrade | DomainError:
        """The gates' approval, or their refusal (kept in `refusals` when `record`)."""
        try:
            return await self._approve(request)
        except DomainError as refused:
            if record:
                self._note_refusal(request, refused)
            return refused

    async def _approve(self, request: TradeRequest) -> ApprovedTrade:
        """The gates' approval on the account and prices of this hour, as the trade path reads
        them (a swap is priced on the hedge market, a perp on its own); without gates, the
        order as asked (no limit). A refusal raises the gates' DomainError."""
        if self.gates is None:
            return ApprovedTrade(request, request.side, request.size, None, None, ZERO, None,
                                 None)
        hedge = self.gates.settings.hedge_market
        price = await self.price(hedge if request.is_swap else request.market)
        return self.gates.evaluate(request, await self.account(), self.now, price,
                                   await self.price(hedge))

    async def _fill(self, approved: ApprovedTrade) -> OrderResult:
        """The paper venue's answer, sent as the executor sends it: a close settles its PnL."""
        request = approved.request
        if request.kind is OrderKind.PERP_CLOSE:
            closed = await self.driver.close_position(
                request.request_id, SUB_ACCOUNT, request.market, settle_pnl=True,
                price_limit=approved.price_limit)
            return closed.result
        if request.is_swap:
            assert approved.side is not None
            return await self.driver.swap(request.request_id, approved.side, approved.size,
                                          price_limit=approved.price_limit)
        assert approved.side is not None
        return await self.driver.open_position(OpenOrder(
            request.request_id, SUB_ACCOUNT, request.market, approved.side, approved.size,
            price_limit=approved.price_limit, reduce_only=request.reduce_only,
            kind=request.kind))

    def _note_refusal(self, request: TradeRequest, refused: DomainError) -> None:
        self.refusals.append(Refusal(
            time=self.now, market=request.market, kind=request.kind.value,
            side=request.side.value if request.side else "", size=request.size,
            gate=refused.details.get("gate", ""), code=str(refused.code),
            reason=refused.message))

    def _note_trade(self, result: OrderResult, kind: str, reason: str) -> None:
        size = result.filled_size or ZERO
        oracle = result.oracle_price or ZERO
        price = result.fill_price or oracle
        self.trades.append(TradeRecord(
            time=self.now, market=result.market, kind=kind,
            side=result.side.value.lower() if result.side else "", size=size, price=price,
            oracle_price=oracle, fee_usd=result.fee or ZERO,
            slippage_usd=abs(price - oracle) * size, reason=reason))
