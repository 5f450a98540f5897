"""Delta drift and the rebalance decision (properties 18-23). Pure: no I/O, no clock reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from services.common.venue import OrderKind, Side
from services.engine.trade_request import ACTION_BY_KIND, TradeRequest

ZERO = Decimal(0)
HUNDRED = Decimal(100)

EXPAND_SHORT = "expand_short"
REDUCE_SHORT = "reduce_short"
NO_ACTION = "none"

SKIP_NO_HEDGE = "no_hedge"
SKIP_NOT_A_CARRY = "not_a_carry"
SKIP_NO_SPOT = "no_hedgeable_spot"
SKIP_WITHIN_TOLERANCE = "within_tolerance"
SKIP_COOLDOWN = "cooldown"
SKIP_BELOW_MIN_SIZE = "below_min_size"


def net_delta(spot_sol: Decimal, reserved_sol: Decimal, perp_sol: Decimal) -> Decimal:
    """S - R + P: the SOL exposure left after the gas reserve and the (signed) hedge."""
    return spot_sol - reserved_sol + perp_sol


def drift_pct(spot_sol: Decimal, reserved_sol: Decimal, perp_sol: Decimal) -> Decimal | None:
    """Property 18: (S - R + P) / (S - R) x 100; None without hedgeable spot (S - R <= 0)."""
    hedgeable = spot_sol - reserved_sol
    if hedgeable <= 0:
        return None
    return net_delta(spot_sol, reserved_sol, perp_sol) / hedgeable * HUNDRED


def rebalance_signal(drift: Decimal | None, tolerance_pct: Decimal) -> bool:
    """Property 19: a signal iff |D| > T."""
    return drift is not None and abs(drift) > tolerance_pct


def cooldown_until(last_rebalance: datetime | None, cooldown_sec: float) -> datetime | None:
    if last_rebalance is None:
        return None
    return last_rebalance + timedelta(seconds=cooldown_sec)


def in_cooldown(now: datetime, last_rebalance: datetime | None, cooldown_sec: float) -> bool:
    """Property 20: inside [last, last + C) no rebalance runs."""
    until = cooldown_until(last_rebalance, cooldown_sec)
    return until is not None and now < until


def correction_size(delta: Decimal) -> Decimal:
    """Property 21: the trade that brings net delta to zero has size |net delta|."""
    return abs(delta)


def rebalance_direction(delta: Decimal) -> str:
    """Property 23: too much long exposure -> expand the short; too little -> reduce it."""
    if delta > 0:
        return EXPAND_SHORT
    if delta < 0:
        return REDUCE_SHORT
    return NO_ACTION


@dataclass(frozen=True)
class RebalancePlan:
    spot_sol: Decimal
    perp_sol: Decimal
    reserved_sol: Decimal
    net_delta: Decimal
    drift_pct: Decimal | None
    tolerance_pct: Decimal
    signal: bool
    action: str
    correction_size: Decimal
    skip_reason: str
    cooldown_until: datetime | None

    @property
    def actionable(self) -> bool:
        return self.action != NO_ACTION

    def request(self, request_id: str, hedge_market: str) -> TradeRequest:
        """The correction as the trade path takes it: expanding sells more of the hedge
        market, reducing buys back (reduce-only, so it can never turn the short long)."""
        expand = self.action == EXPAND_SHORT
        return TradeRequest(request_id, ACTION_BY_KIND[OrderKind.PERP_REBALANCE],
                            OrderKind.PERP_REBALANCE, hedge_market,
                            Side.SHORT if expand else Side.LONG, self.correction_size,
                            source="rebalance", reduce_only=not expand)


def plan_rebalance(
    *,
    spot_sol: Decimal,
    perp_sol: Decimal,
    reserved_sol: Decimal,
    tolerance_pct: Decimal,
    min_trade_size_sol: Decimal,
    now: datetime,
    last_rebalance: datetime | None,
    cooldown_sec: float,
) -> RebalancePlan:
    """What the rebalancer should do now. Only the carry is rebalanced: spot SOL held against
    a short on the hedge market. The SOL kept for gas in an unhedged wallet is not a position
    to hedge, and a long on the hedge market is somebody's own position: never touched."""
    delta = net_delta(spot_sol, reserved_sol, perp_sol)
    drift = drift_pct(spot_sol, reserved_sol, perp_sol)
    signal = rebalance_signal(drift, tolerance_pct)
    # With hedgeable spot (S - R >= 0) and a short (P < 0), |S - R + P| <= |P| when the delta
    # is negative: the correction never takes the hedge past flat.
    size = correction_size(delta)
    until = cooldown_until(last_rebalance, cooldown_sec)
    if perp_sol == 0:
        skip = SKIP_NO_HEDGE
    elif perp_sol > 0:
        skip = SKIP_NOT_A_CARRY
    elif drift is None:
        # A hedge with no spot to hedge: the drift is undefined, a human decides.
        skip = SKIP_NO_SPOT
    elif not signal:
        skip = SKIP_WITHIN_TOLERANCE
    elif in_cooldown(now, last_rebalance, cooldown_sec):
        skip = SKIP_COOLDOWN
    elif size < min_trade_size_sol:
        skip = SKIP_BELOW_MIN_SIZE
    else:
        skip = ""
    return RebalancePlan(
        spot_sol=spot_sol,
        perp_sol=perp_sol,
        reserved_sol=reserved_sol,
        net_delta=delta,
        drift_pct=drift,
        tolerance_pct=tolerance_pct,
        signal=signal,
        action=rebalance_direction(delta) if not skip else NO_ACTION,
        correction_size=size,
        skip_reason=skip,
        cooldown_until=until,
    )


def spot_to_buy(
    spot_sol: Decimal, reserved_sol: Decimal, perp_sol: Decimal, new_short: Decimal
) -> Decimal:
    """SOL the spot leg must buy so that a new short of `new_short` leaves the hedge neutral:
    the shortfall of spot after the short, never more than the short itself."""
    shortfall = -(net_delta(spot_sol, reserved_sol, perp_sol) - new_short)
    return min(max(shortfall, Decimal(0)), new_short)


def spot_to_sell(spot_sol: Decimal, reserved_sol: Decimal, perp_sol: Decimal) -> Decimal:
    """SOL the spot leg sells when the carry's short (`perp_sol`, negative) is closed: what the
    short hedged, never the gas reserve."""
    short = -min(perp_sol, Decimal(0))
    return min(short, max(spot_sol - reserved_sol, Decimal(0)))
