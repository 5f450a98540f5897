"""One backtest: the paper venue (its own fills, fees, slippage, margin and hourly funding) on the
recorded data, driven hour by hour by a strategy, on a simulated clock: no gRPC, no sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.backtest.data import BacktestData
from services.backtest.engine_gates import EngineGates, engine_defaults
from services.backtest.gated_venue import (
    SOL_MARKET,
    SUB_ACCOUNT,
    BacktestRefused,
    Venue,
)
from services.backtest.ledger import ZERO, Ledger, LedgerRow
from services.backtest.market_data import BacktestMarketData, SimulatedClock
from services.common.venue import AccountState, OrderStatus, Side
from services.engine.settings import EngineSettings
from services.executor.paper_driver import PaperDriver
from services.feed.funding_math import HOUR

Progress = Callable[[int, int], None]


class Strategy(Protocol):
    name: str
    gated: bool   # its orders pass the engine's gates first (False: past them, as asked)

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        """USDC kept in the wallet at the start (the carry's spot purchase); the rest of the
        capital is deposited as collateral."""

    async def on_hour(self, venue: Venue) -> None:
        """Called at the start of each hour, after the hour that ended has been paid."""

    async def finish(self, venue: Venue) -> None:
        """Called at the end, after the last hour has been paid."""


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
    gated: bool = True      # every order passed the engine's gates


async def run_backtest(data: BacktestData, strategy: Strategy, start: datetime, end: datetime,
                       capital: Decimal, progress: Progress | None = None, *,
                       settings: EngineSettings | None = None) -> BacktestRun:
    """[start, end) hour by hour; the capital starts in the wallet and is deposited at start.

    A gated strategy's orders pass the engine's gates (with `settings`, the engine's defaults
    when None). The wallet also holds the engine's SOL gas reserve, which its gas gate requires
    and which is no part of the capital or the equity."""
    data.require_window(start, end)
    started = time.perf_counter()
    settings = settings or engine_defaults()
    reserve = settings.reserved_sol
    clock = SimulatedClock(start)
    market_data = BacktestMarketData(data, clock)
    driver = PaperDriver(market_data, None, start_usdc=capital, start_sol=reserve)
    await driver.start()
    venue = Venue(data, clock, market_data, driver,
                  EngineGates(data, settings) if strategy.gated else None, gas_reserve=reserve)
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
                       Ledger(venue.trades, hours, curve, venue.refusals), final,
                       venue.events, time.perf_counter() - started, gated=strategy.gated)


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
    """The sub-account's equity (collateral with unrealized PnL) plus the wallet's USDC and its
    SOL beyond the gas reserve."""
    spot = state.wallet_sol - venue.gas_reserve
    sol = spot * await venue.price(SOL_MARKET) if spot else ZERO
    return state.equity + state.wallet_usdc + sol
