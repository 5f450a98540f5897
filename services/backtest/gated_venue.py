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
        request = self._request("open", OrderKind.PERP_OPEN, market, side, size)
        approved = await self._approved(request)
        if approved is None:
            return None
        order = OpenOrder(request.request_id, SUB_ACCOUNT, market, side, approved.size,
                          price_limit=approved.price_limit)
        return self._record(await self.driver.open_position(order), "perp_open", reason)

    async def close(self, market: str, reason: str) -> OrderResult | None:
        request = self._request("close", OrderKind.PERP_CLOSE, market, None, ZERO)
        approved = await self._approved(request)
        if approved is None:
            return None
        # As the engine closes: the PnL settled with it, at the gates' limit.
        outcome = await self.driver.close_position(
            request.request_id, SUB_ACCOUNT, market, settle_pnl=True,
            price_limit=approved.price_limit)
        return self._record(outcome.result, "perp_close", reason)

    async def reduce(self, market: str, side: Side, size: Decimal,
                     reason: str) -> OrderResult | None:
        return await self._rebalance(market, side, size, reason, reduce_only=True)

    async def expand(self, market: str, side: Side, size: Decimal,
                     reason: str) -> OrderResult | None:
        return await self._rebalance(market, side, size, reason, reduce_only=False)

    async def swap(self, side: Side, size: Decimal, reason: str) -> OrderResult | None:
        kind = OrderKind.SPOT_BUY if side is Side.LONG else OrderKind.SPOT_SELL
        request = self._request("swap", kind, SPOT_MARKET, side, size)
        approved = await self._approved(request)
        if approved is None:
            return None
        result = await self.driver.swap(request.request_id, side, approved.size,
                                        price_limit=approved.price_limit)
        return self._record(result, kind.value, reason)

    async def preview(self, market: str, side: Side, size: Decimal) -> bool:
        """Would the engine's gates let this open through now? Nothing trades; a refusal is
        recorded (the engine's preview of a hedged entry, which prices both legs)."""
        request = self._request("preview", OrderKind.PERP_OPEN, market, side, size)
        return await self._approved(request) is not None

    async def would_pass(self, market: str, side: Side, size: Decimal) -> bool:
        """preview() that records nothing: a strategy weighing its choices."""
        request = self._request("probe", OrderKind.PERP_OPEN, market, side, size)
        return await self._approved(request, record=False) is not None

    async def price(self, market: str) -> Decimal:
        return (await self.market_data.price(market)).oracle_price

    async def _rebalance(self, market: str, side: Side, size: Decimal, reason: str, *,
                         reduce_only: bool) -> OrderResult | None:
        request = self._request("rebalance", OrderKind.PERP_REBALANCE, market, side, size,
                                source="rebalance", reduce_only=reduce_only)
        approved = await self._approved(request)
        if approved is None:
            return None
        order = OpenOrder(request.request_id, SUB_ACCOUNT, market, side, approved.size,
                          price_limit=approved.price_limit, reduce_only=reduce_only,
                          kind=OrderKind.PERP_REBALANCE)
        return self._record(await self.driver.open_position(order), "perp_rebalance", reason)

    def _request(self, what: str, kind: OrderKind, market: str, side: Side | None,
                 size: Decimal, **fields: Any) -> TradeRequest:
        self._orders += 1
        return TradeRequest(f"backtest-{what}-{self._orders}", ACTION_BY_KIND[kind], kind,
                            market, side, size, confirmed=True, **fields)

    async def _approved(self, request: TradeRequest, *,
                        record: bool = True) -> ApprovedTrade | None:
        """The gates' approval; without gates, the order as asked (no limit). A refusal is
        answered None, and kept in `refusals` when `record`."""
        if self.gates is None:
            return ApprovedTrade(request, request.side, request.size, None, None, ZERO, None,
                                 None)
        try:
            return await self._evaluate(request)
        except DomainError as refused:
            if not record:
                return None
            self.refusals.append(Refusal(
                time=self.now, market=request.market, kind=request.kind.value,
                side=request.side.value if request.side else "", size=request.size,
                gate=refused.details.get("gate", ""), code=str(refused.code),
                reason=refused.message))
            return None

    async def _evaluate(self, request: TradeRequest) -> ApprovedTrade:
        """The gates' answer on the account and prices of this hour, as the trade path reads
        them: a swap is priced on the hedge market, a perp on its own."""
        assert self.gates is not None
        hedge = self.gates.settings.hedge_market
        price = await self.price(hedge if request.is_swap else request.market)
        return self.gates.evaluate(request, await self.account(), self.now, price,
                                   await self.price(hedge))

    def _record(self, result: OrderResult, kind: str, reason: str) -> OrderResult:
        if result.status is not OrderStatus.FILLED:
            raise BacktestRefused(
                f"{self.now.isoformat()}: {kind} {result.market} refused by the paper venue: "
                f"{result.error_code} {result.error_message}")
        size = result.filled_size or ZERO
        oracle = result.oracle_price or ZERO
        price = result.fill_price or oracle
        self.trades.append(TradeRecord(
            time=self.now, market=result.market, kind=kind,
            side=result.side.value.lower() if result.side else "", size=size, price=price,
            oracle_price=oracle, fee_usd=result.fee or ZERO,
            slippage_usd=abs(price - oracle) * size, reason=reason))
        return result
