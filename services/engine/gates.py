"""Safety gates: each answers an explicit decision with a code and a reason, never a bare bool.

Pure functions over Decimals (properties 4, 9, 12-14, 25-30). The trade path composes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from services.common.errors import DomainError, ErrorCode
from services.common.health import health_ratio

ZERO = Decimal(0)
HUNDRED = Decimal(100)
LAMPORTS_PER_SOL = Decimal(1_000_000_000)
SWAP_FEE_RATE = Decimal("0.001")       # property 25: A x 0.001 (venue/DEX fee)
SLIPPAGE_COST_RATE = Decimal("0.0002")  # property 25: A x 0.0002 (expected price impact)
CONSERVATIVE_FACTOR = Decimal("0.5")    # property 28: plan on half the quoted rate
MIN_WITHDRAW_HEALTH = Decimal(80)       # property 12


@dataclass(frozen=True)
class GateDecision:
    gate: str
    allowed: bool
    code: ErrorCode | None = None
    reason: str = ""
    details: Mapping[str, str] = field(default_factory=dict)

    def raise_if_denied(self) -> None:
        if not self.allowed:
            assert self.code is not None
            raise GateDenied(self)


class GateDenied(DomainError):
    """A trade refused by a safety gate; carries the decision for logs and metrics."""

    def __init__(self, decision: GateDecision) -> None:
        assert decision.code is not None
        super().__init__(decision.code, decision.reason, gate=decision.gate, **decision.details)
        self.decision = decision


def allow(gate: str, reason: str = "ok") -> GateDecision:
    return GateDecision(gate=gate, allowed=True, reason=reason)


def deny(gate: str, code: ErrorCode, reason: str, **details: object) -> GateDecision:
    return GateDecision(
        gate=gate, allowed=False, code=code, reason=reason,
        details={key: str(value) for key, value in details.items()},
    )


# --- Health (property 2, as Drift defines it; see the brief) ---------------------------------


# --- Capital (properties 9 and 12) -----------------------------------------------------------

def check_deposit(amount: Decimal, wallet_usdc: Decimal) -> GateDecision:
    """Property 9: accepted iff 0 < A <= wallet balance."""
    if amount <= 0:
        return deny("deposit", ErrorCode.INVALID_AMOUNT,
                    f"deposit amount must be greater than zero, found {amount}", amount=amount)
    if amount > wallet_usdc:
        return deny("deposit", ErrorCode.INSUFFICIENT_BALANCE,
                    f"deposit of {amount} USDC exceeds the wallet balance of {wallet_usdc} USDC",
                    amount=amount, wallet_usdc=wallet_usdc)
    return allow("deposit")


def health_after_withdrawal(
    collateral: Decimal, maintenance_margin: Decimal, amount: Decimal
) -> Decimal:
    return health_ratio(collateral - amount, maintenance_margin)


def check_withdrawal(
    amount: Decimal,
    collateral: Decimal,
    maintenance_margin: Decimal,
    min_health: Decimal = MIN_WITHDRAW_HEALTH,
    *,
    position_notional: Decimal = ZERO,
    max_leverage: Decimal | None = None,
) -> GateDecision:
    """Property 12: a withdrawal that would leave health below 80 % is refused; and, with
    property 4, one that would leave leverage (total |position notional| / collateral, as the
    open gate counts it) above the limit: less collateral under the same positions."""
    if amount <= 0:
        return deny("withdraw", ErrorCode.INVALID_AMOUNT,
                    f"withdrawal amount must be greater than zero, found {amount}", amount=amount)
    if amount > collateral:
        return deny("withdraw", ErrorCode.INSUFFICIENT_COLLATERAL,
                    f"withdrawal of {amount} USDC exceeds the collateral of {collateral} USDC",
                    amount=amount, collateral=collateral)
    after = health_after_withdrawal(collateral, maintenance_margin, amount)
    if after < min_health:
        return deny("withdraw", ErrorCode.HEALTH_LIMIT,
                    f"withdrawal of {amount} USDC would leave health at {after:.2f} %, "
                    f"below the {min_health} % minimum",
                    amount=amount, health_after=f"{after:.4f}", min_health=min_health)
    if max_leverage is not None:
        leverage_after = leverage([position_notional], collateral - amount)
        if leverage_after > max_leverage:
            return deny("withdraw", ErrorCode.LEVERAGE_LIMIT,
                        f"withdrawal of {amount} USDC would leave leverage at "
                        f"{leverage_after:.2f}x, above the {max_leverage}x limit",
                        amount=amount, leverage_after=f"{leverage_after:.4f}",
                        limit=max_leverage)
    return allow("withdraw")


# --- Markets, leverage, prices (properties 13, 4, 14) ----------------------------------------

def check_market(market: str, tradable: Iterable[str], known: Iterable[str] = ()) -> GateDecision:
    """Property 13: accepted iff the market is in the feed's tradable set."""
    tradable_set = set(tradable)
    if market in tradable_set:
        return allow("market")
    if market in set(known):
        return deny("market", ErrorCode.MARKET_NOT_TRADABLE,
                    f"{market} exists but is not tradable now (not active, paused or not a perp)",
                    market=market)
    return deny("market", ErrorCode.INVALID_MARKET,
                f"{market!r} is not a Drift market; expected one of {sorted(tradable_set)[:10]}",
                market=market)


def leverage(notionals: Iterable[Decimal], collateral: Decimal) -> Decimal:
    """Sum of |notional| over collateral; 0 with no positions, infinite with none to back them."""
    total = sum((abs(notional) for notional in notionals), ZERO)
    if total == 0:
        return ZERO
    if collateral <= 0:
        return Decimal("Infinity")
    return total / collateral


def check_leverage(
    *,
    positions: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    collateral: Decimal,
    market: str,
    signed_size_change: Decimal,
    limit: Decimal,
) -> GateDecision:
    """Property 4: refuse a trade that leaves leverage above the limit and higher than before.

    `positions` are signed base sizes per market; a trade that lowers leverage is always allowed,
    so a position above the limit can still be reduced."""
    before = leverage((size * prices[name] for name, size in positions.items()), collateral)
    after_positions = dict(positions)
    after_positions[market] = after_positions.get(market, ZERO) + signed_size_change
    after = leverage((size * prices[name] for name, size in after_positions.items()), collateral)
    if after > limit and after > before:
        if collateral <= 0:
            return deny("leverage", ErrorCode.LEVERAGE_LIMIT,
                        f"no collateral backs the trade ({collateral} USDC): deposit first",
                        collateral=collateral, limit=limit)
        return deny("leverage", ErrorCode.LEVERAGE_LIMIT,
                    f"the trade would take leverage to {after:.2f}x, above the {limit}x limit",
                    leverage_after=f"{after:.4f}", limit=limit)
    return allow("leverage")


# The places an order's limit price is sent with (the trade path writes it so; the backtester
# rounds to it, half-even as the wire does).
LIMIT_PLACES = 6


def price_limit(price: Decimal, slippage_tolerance: Decimal, buying: bool) -> Decimal:
    """Property 14: P x (1 + S) for buys, P x (1 - S) for sells."""
    return price * (1 + slippage_tolerance) if buying else price * (1 - slippage_tolerance)


# --- Profitability (properties 25-28) --------------------------------------------------------

@dataclass(frozen=True)
class CostEstimate:
    tip_usd: Decimal
    swap_fee_usd: Decimal
    slippage_usd: Decimal
    base_fee_usd: Decimal

    @property
    def total(self) -> Decimal:
        return self.tip_usd + self.swap_fee_usd + self.slippage_usd + self.base_fee_usd


def estimate_cost(
    amount_usd: Decimal, sol_price: Decimal, tip_lamports: int, base_fee_lamports: int
) -> CostEstimate:
    """Property 25: T x P + A x 0.001 + A x 0.0002 + base fee, lamports converted at P."""
    return CostEstimate(
        tip_usd=Decimal(tip_lamports) / LAMPORTS_PER_SOL * sol_price,
        swap_fee_usd=amount_usd * SWAP_FEE_RATE,
        slippage_usd=amount_usd * SLIPPAGE_COST_RATE,
        base_fee_usd=Decimal(base_fee_lamports) / LAMPORTS_PER_SOL * sol_price,
    )


def conservative_rate(rate_1h: Decimal) -> Decimal:
    """Property 28: plan on half the quoted funding rate."""
    return rate_1h * CONSERVATIVE_FACTOR


def expected_revenue(
    size: Decimal, rate_1h: Decimal, price: Decimal, horizon_hours: Decimal, short: bool
) -> Decimal:
    """Property 26: S x R x P per hour, over the horizon; positive rates pay shorts."""
    sign = 1 if short else -1
    return sign * size * rate_1h * price * horizon_hours


def check_profitability(
    expected: Decimal, cost: Decimal, fee_guard_multiple: Decimal, **cost_parts: Decimal
) -> GateDecision:
    """Property 27 (reject if E < C) and the fee guard (E must reach multiple x C); C is the
    whole round trip, and its parts are named in the details."""
    details = {"expected_revenue": expected, "estimated_costs": cost,
               "net_profit": expected - cost, **cost_parts}
    if expected < cost:
        return deny("profitability", ErrorCode.UNPROFITABLE,
                    f"expected revenue {expected:.4f} USD is below the estimated cost "
                    f"{cost:.4f} USD", **details)
    if expected < fee_guard_multiple * cost:
        return deny("fee_guard", ErrorCode.UNPROFITABLE,
                    f"expected revenue {expected:.4f} USD is below {fee_guard_multiple}x the "
                    f"estimated cost {cost:.4f} USD", **details)
    return allow("profitability")


# --- Venue and wallet (properties 29, 30) ----------------------------------------------------

def check_latency(
    venue_latency_ms: float, measured_ms: float, limit_ms: float
) -> GateDecision:
    """Property 29: any latency above the limit blocks every trade."""
    worst = max(venue_latency_ms, measured_ms)
    if worst > limit_ms or worst != worst:
        return deny("latency", ErrorCode.LATENCY_TOO_HIGH,
                    f"venue latency {worst:.0f} ms is above the {limit_ms:.0f} ms limit",
                    venue_latency_ms=f"{venue_latency_ms:.1f}", measured_ms=f"{measured_ms:.1f}",
                    limit_ms=limit_ms)
    return allow("latency")


def check_gas(wallet_sol: Decimal, reserved_sol: Decimal) -> GateDecision:
    """Property 30: with less SOL than the reserve, no transaction can pay its fees."""
    if wallet_sol < reserved_sol:
        return deny("balance", ErrorCode.INSUFFICIENT_GAS,
                    f"wallet holds {wallet_sol} SOL, below the {reserved_sol} SOL gas reserve",
                    wallet_sol=wallet_sol, reserved_sol=reserved_sol)
    return allow("balance")
