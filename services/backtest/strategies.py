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
from services.backtest.engine_gates import engine_defaults
from services.backtest.engine_legs import CarryLegs
from services.backtest.gated_venue import SOL_MARKET, Venue
from services.common.venue import AccountState, OrderKind, Side
from services.engine import delta
from services.engine.account import AccountView
from services.engine.entry_economics import EntryCosts, assess_entry
from services.engine.settings import EngineSettings
from services.engine.trade_request import TradeRequest

ZERO = Decimal(0)
HOUR = timedelta(hours=1)
APR_PER_RATE_1H = Decimal(24 * 365 * 100)   # an hourly rate as an APR in %
# The paper venue's fill slippage and taker fee on the spot purchase, kept in the wallet.
SPOT_BUFFER = Decimal("1.02")


@dataclass
class Hold:
    """Opens `size` of `market` on `side` at the first hour and closes it after the last one:
    the round trip's fees and slippage are in the result, as they would be for a trader. (Made
    gated, it enters at the first hour the engine's gates let it.)"""

    market: str
    side: Side
    size: Decimal
    name: str = "hold"
    # The baseline: what holding the market paid, the engine's gates not asked.
    gated: bool = False
    _opened: bool = False

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        return ZERO

    async def on_hour(self, venue: Venue) -> None:
        venue.events += 1
        if not self._opened:
            self._opened = await venue.open(self.market, self.side, self.size,
                                            "hold: enter at the start") is not None

    async def finish(self, venue: Venue) -> None:
        if self._opened:
            await venue.close(self.market, "hold: leave at the end")


@dataclass
class Carry:
    """The engine's hedged entry, run by the engine's own code (HedgedEntry, through
    engine_legs.py): once its gates pass a `size` SOL-PERP short, the spot SOL it hedges
    (beyond the gas reserve) is bought with wallet USDC and the short opened, the spot sold back
    if the short is refused. Then each hour the engine's rebalancer plan (delta.plan_rebalance,
    its tolerance, minimum size and cooldown) corrects the short, and at the end the engine's
    hedged exit closes it and sells the spot. An entry the gates refuse is asked again the next
    hour."""

    size: Decimal
    settings: EngineSettings = field(default_factory=engine_defaults)
    name: str = "carry"
    gated: bool = True
    _entered: bool = False
    _last_rebalance: datetime | None = None
    _legs: CarryLegs | None = None

    def wallet_usdc(self, capital: Decimal, data: BacktestData, start: datetime) -> Decimal:
        return min(capital, self.size * data.prices.quote(SOL_MARKET, start).oracle * SPOT_BUFFER)

    async def on_hour(self, venue: Venue) -> None:
        venue.events += 1
        if not self._entered:
            self._entered = (await self._hedge(venue).enter(self.size)).ok
            return
        account = await venue.account()
        plan = delta.plan_rebalance(
            spot_sol=account.wallet_sol, perp_sol=_perp(account), reserved_sol=venue.gas_reserve,
            tolerance_pct=self.settings.drift_tolerance_pct,
            min_trade_size_sol=self.settings.min_trade_size_sol, now=venue.now,
            last_rebalance=self._last_rebalance,
            cooldown_sec=self.settings.rebalance_cooldown_sec)
        if not plan.actionable:
            return
        reason = f"carry: rebalance, drift {plan.drift_pct:.2f} %"
        if await venue.rebalance(plan, SOL_MARKET, reason) is not None:
            self._last_rebalance = venue.now

    async def finish(self, venue: Venue) -> None:
        if self._entered:
            await self._hedge(venue).leave()

    def _hedge(self, venue: Venue) -> CarryLegs:
        if self._legs is None:
            self._legs = CarryLegs(venue, self.settings, _carry_reason)
        return self._legs


def _carry_reason(request: TradeRequest) -> str:
    """What each of the engine's hedge legs is for, in the report's words."""
    if request.kind is OrderKind.SPOT_BUY:
        return "carry: buy the spot leg"
    if request.kind is OrderKind.SPOT_SELL:
        return ("carry: the short was refused, sell the spot back" if request.source == "rollback"
                else "carry: sell the spot leg")
    if request.kind is OrderKind.PERP_CLOSE:
        return "carry: leave the hedge"
    return "carry: short the hedge"


@dataclass(frozen=True)
class Entry:
    market: str
    side: Side
    size: Decimal
    apr: Decimal    # the receiving side's, in %


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
    gated: bool = True
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
        if self._held is not None:
            sign = 1 if self._side is Side.SHORT else -1
            held_apr = sign * rates[self._held] * APR_PER_RATE_1H
            assert self._since is not None
            if venue.now - self._since < self.min_hold_hours * HOUR:
                return
            reason = None
            if held_apr < self.exit_apr:
                reason = f"rotate: {held_apr:.2f} % APR is below the {self.exit_apr} % exit"
            else:
                better = await self._best_entry(venue, rates, held_apr + self.switch_margin_apr)
                if better is not None and better.market != self._held:
                    reason = (f"rotate: {better.market} pays {better.apr:.2f} % APR against "
                              f"{held_apr:.2f} %")
            if reason is not None and await venue.close(self._held, reason) is not None:
                self._held = None
            if self._held is not None:
                return
        entry = await self._best_entry(venue, rates, self.exit_apr)
        if entry is not None and await venue.open(
                entry.market, entry.side, entry.size, f"rotate: enter at {entry.apr:.2f} % APR"):
            self._held, self._side, self._since = entry.market, entry.side, venue.now

    async def _best_entry(self, venue: Venue, rates: dict[str, Decimal],
                          above_apr: Decimal) -> Entry | None:
        """The market paying most on its receiving side, above `above_apr`, whose entry the
        engine's profitability and fee guard pass and (gated) its other gates would let through:
        a market it can never take (a long on its hedge market) gives way to the next."""
        for market in sorted(rates, key=lambda m: (-abs(rates[m]), m)):
            apr = abs(rates[market]) * APR_PER_RATE_1H
            if apr <= above_apr:
                return None
            size = await self._paying_size(venue, market, rates[market])
            side = Side.SHORT if rates[market] > 0 else Side.LONG
            if size is not None and await venue.would_pass(market, side, size):
                return Entry(market, side, size, apr)
        return None

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


def _perp(account: AccountState) -> Decimal:
    """The signed SOL-PERP size held (negative: short), as the engine's rebalancer reads it."""
    return AccountView(account).signed_size(SOL_MARKET)
