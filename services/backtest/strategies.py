"""The strategies a backtest runs, deciding with the engine's own rules.

`hold`: one position from start to end (the baseline). `carry`: the engine's SOL carry, spot SOL
held against a SOL-PERP short, kept neutral by the engine's rebalancer plan. `rotate`: the best
market on its receiving side when the engine's profitability and fee guard pass, left on an exit
threshold after a minimum holding time, switched only past a margin (hysteresis).

A strategy decides at the start of each hour from the hours already settled: it never sees the
rate of the hour it is deciding in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from services.backtest.data import BacktestData
from services.backtest.runner import SOL_MARKET, Venue
from services.common.venue import Side
from services.engine import delta
from services.engine.entry_economics import EntryCosts, assess_entry
from services.engine.settings import EngineSettings

ZERO = Decimal(0)
HOUR = timedelta(hours=1)
APR_PER_RATE_1H = Decimal(24 * 365 * 100)   # an hourly rate as an APR in %
# The paper venue's fill slippage and taker fee on the spot purchase, kept in the wallet.
SPOT_BUFFER = Decimal("1.02")


def engine_defaults() -> EngineSettings:
    """The engine's settings as it ships (no environment read): the backtest decides with them."""
    return EngineSettings.model_construct()


@dataclass
class Hold:
    """Opens `size` of `market` on `side` at the first hour and closes it after the last one:
    the round trip's fees and slippage are in the result, as they would be for a trader."""

    market: str
    side: Side
    size: Decimal
    name: str = "hold"
    _opened: bool = False

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        return ZERO

    async def on_hour(self, venue: Venue) -> None:
        venue.events += 1
        if not self._opened:
            await venue.open(self.market, self.side, self.size, "hold: enter at the start")
            self._opened = True

    async def finish(self, venue: Venue) -> None:
        await venue.close(self.market, "hold: leave at the end")


@dataclass
class Carry:
    """`size` SOL bought spot with wallet USDC and shorted on SOL-PERP, then each hour the
    engine's rebalancer plan (delta.plan_rebalance, its tolerance, minimum size and cooldown)
    corrects the short. The wallet keeps no gas reserve here: the paper venue charges none."""

    size: Decimal
    settings: EngineSettings = field(default_factory=engine_defaults)
    name: str = "carry"
    _entered: bool = False
    _last_rebalance: datetime | None = None

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        return min(capital, self.size * data.prices.quote(SOL_MARKET, start).oracle * SPOT_BUFFER)

    async def on_hour(self, venue: Venue) -> None:
        venue.events += 1
        if not self._entered:
            await venue.swap(Side.LONG, self.size, "carry: buy the spot leg")
            await venue.open(SOL_MARKET, Side.SHORT, self.size, "carry: short the hedge")
            self._entered = True
            return
        account = await venue.account()
        perp = sum((p.size if p.side is Side.LONG else -p.size
                    for p in account.positions if p.market == SOL_MARKET), ZERO)
        plan = delta.plan_rebalance(
            spot_sol=account.wallet_sol, perp_sol=perp, reserved_sol=ZERO,
            tolerance_pct=self.settings.drift_tolerance_pct,
            min_trade_size_sol=self.settings.min_trade_size_sol, now=venue.now,
            last_rebalance=self._last_rebalance,
            cooldown_sec=self.settings.rebalance_cooldown_sec)
        if plan.action == delta.EXPAND_SHORT:
            await venue.expand(SOL_MARKET, Side.SHORT, plan.correction_size,
                               f"carry: rebalance, drift {plan.drift_pct:.2f} %")
            self._last_rebalance = venue.now
        elif plan.action == delta.REDUCE_SHORT:
            await venue.reduce(SOL_MARKET, Side.LONG, plan.correction_size,
                               f"carry: rebalance, drift {plan.drift_pct:.2f} %")
            self._last_rebalance = venue.now

    async def finish(self, venue: Venue) -> None:
        await venue.close(SOL_MARKET, "carry: leave the hedge")
        account = await venue.account()
        if account.wallet_sol > 0:
            await venue.swap(Side.SHORT, account.wallet_sol, "carry: sell the spot leg")


@dataclass
class Rotate:
    """Holds at most one position: the market whose last settled rate pays most on its
    receiving side, sized at `leverage` x equity. Enters only when the engine's profitability
    and fee guard pass (expected funding at half the rate over its horizon against the
    estimated round trip); leaves when the held side's APR falls below `exit_apr` once
    `min_hold_hours` have passed; switches only to a market paying `switch_margin_apr` more."""

    markets: list[str]
    leverage: Decimal = Decimal(1)
    exit_apr: Decimal = ZERO
    min_hold_hours: int = 24
    switch_margin_apr: Decimal = Decimal(10)
    costs: EntryCosts = field(default_factory=lambda: EntryCosts.of(engine_defaults()))
    name: str = "rotate"
    _held: str | None = None
    _side: Side = Side.SHORT
    _since: datetime | None = None

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        return ZERO

    async def on_hour(self, venue: Venue) -> None:
        settled = venue.now - HOUR
        if settled < venue.data.window[0]:
            return   # no hour has settled yet: nothing to decide on
        rates = {market: venue.data.rate(market, settled).rate_1h for market in self.markets}
        venue.events += len(rates)
        best = max(rates, key=lambda market: abs(rates[market]))
        best_apr = abs(rates[best]) * APR_PER_RATE_1H
        if self._held is not None:
            sign = 1 if self._side is Side.SHORT else -1
            held_apr = sign * rates[self._held] * APR_PER_RATE_1H
            assert self._since is not None
            if venue.now - self._since < self.min_hold_hours * HOUR:
                return
            if held_apr < self.exit_apr:
                await venue.close(self._held, f"rotate: {held_apr:.2f} % APR is below the "
                                              f"{self.exit_apr} % exit")
                self._held = None
            elif (best != self._held and best_apr - held_apr >= self.switch_margin_apr
                  and await self._paying_size(venue, best, rates[best]) is not None):
                await venue.close(self._held, f"rotate: {best} pays {best_apr:.2f} % APR "
                                              f"against {held_apr:.2f} %")
                self._held = None
            if self._held is not None:
                return
        if best_apr <= self.exit_apr:
            return
        size = await self._paying_size(venue, best, rates[best])
        if size is not None:
            side = Side.SHORT if rates[best] > 0 else Side.LONG
            await venue.open(best, side, size, f"rotate: enter at {best_apr:.2f} % APR")
            self._held, self._side, self._since = best, side, venue.now

    async def finish(self, venue: Venue) -> None:
        if self._held is not None:
            await venue.close(self._held, "rotate: leave at the end")

    async def _paying_size(self, venue: Venue, market: str, rate_1h: Decimal) -> Decimal | None:
        """The entry's size (`leverage` x equity) when the engine's own profitability and fee
        guard pass it, else None."""
        price = await venue.price(market)
        size = (await venue.account()).equity * self.leverage / price
        economics = assess_entry(
            size=size, rate_1h=rate_1h, price=price, short=rate_1h > 0,
            sol_price=await venue.price(SOL_MARKET), spot_sol=ZERO, costs=self.costs)
        return size if economics.decision.allowed else None
