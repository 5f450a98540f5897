"""One backtest: the paper venue (its own fills, fees, slippage, margin and hourly funding) on the
recorded data, driven hour by hour by a strategy, on a simulated clock: no gRPC, no sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.backtest.data import BacktestData
from services.backtest.ledger import ZERO, Ledger, LedgerRow, TradeRecord
from services.backtest.market_data import BacktestMarketData, SimulatedClock
from services.common.venue import (
    AccountState,
    OpenOrder,
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
)
from services.executor.paper_driver import PaperDriver
from services.feed.funding_math import HOUR

SUB_ACCOUNT = 0
SOL_MARKET = "SOL-PERP"   # the paper venue values wallet SOL at SOL-PERP's oracle
Progress = Callable[[int, int], None]


class BacktestRefused(ValueError):
    """A trade the strategy needs was refused by the venue (the message says why)."""


class Strategy(Protocol):
    name: str

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        """USDC kept in the wallet at the start (the carry's spot purchase); the rest of the
        capital is deposited as collateral."""

    async def on_hour(self, venue: Venue) -> None:
        """Called at the start of each hour, after the hour that ended has been paid."""

    async def finish(self, venue: Venue) -> None:
        """Called at the end, after the last hour has been paid."""


@dataclass
class Venue:
    """The paper venue as a strategy sees it: the market at the hour, orders, the account."""

    data: BacktestData
    clock: SimulatedClock
    market_data: BacktestMarketData
    driver: PaperDriver
    trades: list[TradeRecord] = field(default_factory=list)
    events: int = 0
    _orders: int = 0

    @property
    def now(self) -> datetime:
        return self.clock.now

    async def account(self) -> AccountState:
        return await self.driver.account_state(SUB_ACCOUNT, funding_since=self.now)

    async def open(self, market: str, side: Side, size: Decimal, reason: str) -> OrderResult:
        order = OpenOrder(self._next_id("open"), SUB_ACCOUNT, market, side, size)
        return self._record(await self.driver.open_position(order), "perp_open", reason)

    async def close(self, market: str, reason: str) -> OrderResult:
        outcome = await self.driver.close_position(self._next_id("close"), SUB_ACCOUNT, market)
        return self._record(outcome.result, "perp_close", reason)

    async def reduce(self, market: str, side: Side, size: Decimal, reason: str) -> OrderResult:
        order = OpenOrder(self._next_id("reduce"), SUB_ACCOUNT, market, side, size,
                          reduce_only=True, kind=OrderKind.PERP_REBALANCE)
        return self._record(await self.driver.open_position(order), "perp_rebalance", reason)

    async def expand(self, market: str, side: Side, size: Decimal, reason: str) -> OrderResult:
        order = OpenOrder(self._next_id("expand"), SUB_ACCOUNT, market, side, size,
                          kind=OrderKind.PERP_REBALANCE)
        return self._record(await self.driver.open_position(order), "perp_rebalance", reason)

    async def swap(self, side: Side, size: Decimal, reason: str) -> OrderResult:
        result = await self.driver.swap(self._next_id("swap"), side, size)
        return self._record(result, "spot_buy" if side is Side.LONG else "spot_sell", reason)

    async def price(self, market: str) -> Decimal:
        return (await self.market_data.price(market)).oracle_price

    def _next_id(self, what: str) -> str:
        self._orders += 1
        return f"backtest-{what}-{self._orders}"

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


@dataclass(frozen=True)
class BacktestRun:
    start: datetime
    end: datetime
    capital: Decimal
    strategy: str
    ledger: Ledger
    final_equity: Decimal
    events: int
    seconds: float


async def run_backtest(data: BacktestData, strategy: Strategy, start: datetime, end: datetime,
                       capital: Decimal, progress: Progress | None = None) -> BacktestRun:
    """[start, end) hour by hour; the capital starts in the wallet and is deposited at start."""
    data.require_window(start, end)
    started = time.perf_counter()
    clock = SimulatedClock(start)
    market_data = BacktestMarketData(data, clock)
    driver = PaperDriver(market_data, None, start_usdc=capital, start_sol=ZERO)
    await driver.start()
    venue = Venue(data, clock, market_data, driver)
    kept = strategy.wallet_usdc(capital, data, start)
    deposit = await driver.deposit("backtest-deposit", SUB_ACCOUNT, capital - kept)
    if deposit.status is not OrderStatus.FILLED:
        raise BacktestRefused(f"the deposit was refused: {deposit.error_message}")
    hours: list[LedgerRow] = []
    curve: list[tuple[datetime, Decimal]] = [(start, capital)]
    total = int((end - start) / HOUR)
    for index in range(total):
        clock.now = start + index * HOUR
        if index:
            await _record_hour(venue, hours, curve)
        await strategy.on_hour(venue)
        if progress is not None:
            progress(index + 1, total)
    clock.now = end
    await _record_hour(venue, hours, curve)
    await strategy.finish(venue)
    final = await equity(venue, await venue.account())
    curve.append((end, final))
    return BacktestRun(start, end, capital, strategy.name,
                       Ledger(venue.trades, hours, curve), final,
                       venue.events, time.perf_counter() - started)


async def _record_hour(venue: Venue, hours: list[LedgerRow],
                       curve: list[tuple[datetime, Decimal]]) -> None:
    """The hour that just ended: its payments (the venue's own records) and the equity after."""
    state = await venue.account()
    worth = await equity(venue, state)
    ended = venue.now - HOUR
    for payment in state.funding_payments:
        if payment.period_start != ended:
            continue
        signed = payment.size if payment.side is Side.LONG else -payment.size
        hours.append(LedgerRow(
            time=ended, market=payment.market, rate_1h=payment.rate_1h,
            rate_source=str(venue.data.rate(payment.market, ended).source),
            price=payment.oracle_price,
            price_source=str(venue.data.prices.quote(payment.market, venue.now).source),
            position=signed, funding_usd=payment.amount, equity_usd=worth))
    curve.append((venue.now, worth))


async def equity(venue: Venue, state: AccountState) -> Decimal:
    """The sub-account's equity (collateral with unrealized PnL) plus the wallet's USDC and SOL."""
    sol = state.wallet_sol * await venue.price(SOL_MARKET) if state.wallet_sol else ZERO
    return state.equity + state.wallet_usdc + sol
