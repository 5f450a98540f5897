"""Pure venue arithmetic: slippage, PnL, margin, health, leverage, liquidation price.

Everything here is Decimal in, Decimal out, with no state, so the properties of design.md
(2 health, 3 slippage, 4 leverage, 7 PnL) are tested on these functions directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.common.health import health_ratio

ZERO = Decimal(0)
HUNDRED = Decimal(100)

SLIPPAGE_MIN = Decimal("0.001")  # 0.1 %
SLIPPAGE_SPAN = Decimal("0.002")  # up to 0.3 %
DEFAULT_SLIPPAGE_SCALE_USD = Decimal(100_000)


def slippage_fraction(notional: Decimal, scale: Decimal = DEFAULT_SLIPPAGE_SCALE_USD) -> Decimal:
    """0.001 + 0.002 (1 - e^(-notional/scale)): 0.1 % for a tiny order, towards 0.3 % for a
    large one, strictly increasing in between (property 3)."""
    if notional <= 0:
        return SLIPPAGE_MIN
    return SLIPPAGE_MIN + SLIPPAGE_SPAN * (1 - (-notional / scale).exp())


def unrealized_pnl(signed_size: Decimal, entry_price: Decimal, price: Decimal) -> Decimal:
    """(price - entry) x size x (+1 long, -1 short): signed_size carries the sign (property 7)."""
    return (price - entry_price) * signed_size


def leverage(total_notional: Decimal, collateral: Decimal) -> Decimal:
    """Sum of |size| x price over collateral; 0 without positions, infinite at no collateral."""
    if total_notional == 0:
        return ZERO
    if collateral <= 0:
        return Decimal("Infinity")
    return total_notional / collateral


@dataclass(frozen=True)
class Exposure:
    """One open perp position as the margin arithmetic sees it."""

    market: str
    signed_size: Decimal  # positive long, negative short
    entry_price: Decimal
    price: Decimal  # oracle
    margin_ratio_initial: Decimal
    margin_ratio_maintenance: Decimal
    price_pnl_settled: Decimal = Decimal(0)

    @property
    def notional(self) -> Decimal:
        return abs(self.signed_size) * self.price

    @property
    def unrealized_pnl(self) -> Decimal:
        return (unrealized_pnl(self.signed_size, self.entry_price, self.price)
                - self.price_pnl_settled)

    @property
    def maintenance_margin(self) -> Decimal:
        return self.notional * self.margin_ratio_maintenance

    @property
    def initial_margin(self) -> Decimal:
        return self.notional * self.margin_ratio_initial


@dataclass(frozen=True)
class MarginSummary:
    collateral: Decimal
    unrealized_pnl: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal
    total_notional: Decimal

    @property
    def health(self) -> Decimal:
        return health_ratio(self.collateral, self.maintenance_margin)

    @property
    def leverage(self) -> Decimal:
        return leverage(self.total_notional, self.collateral)

    @property
    def free_collateral(self) -> Decimal:
        return max(ZERO, self.collateral - self.initial_margin)


def summarize(
    quote_balance: Decimal, unsettled_pnl: Decimal, exposures: Iterable[Exposure]
) -> MarginSummary:
    """Collateral = quote balance + unrealized PnL + unsettled PnL; margins sum per position."""
    exposures = list(exposures)
    unrealized = sum((e.unrealized_pnl for e in exposures), ZERO)
    return MarginSummary(
        collateral=quote_balance + unrealized + unsettled_pnl,
        unrealized_pnl=unrealized,
        maintenance_margin=sum((e.maintenance_margin for e in exposures), ZERO),
        initial_margin=sum((e.initial_margin for e in exposures), ZERO),
        total_notional=sum((e.notional for e in exposures), ZERO),
    )


def liquidation_price(position: Exposure, summary: MarginSummary) -> Decimal | None:
    """The oracle price of `position` at which collateral equals maintenance margin, every
    other position held at its price. None when no positive price liquidates it."""
    size = position.signed_size
    if size == 0:
        return None
    other_maintenance = summary.maintenance_margin - position.maintenance_margin
    # C(p) = C0 + size (p - p0);  M(p) = M_other + |size| ratio p;  solve C(p) = M(p).
    denominator = abs(size) * position.margin_ratio_maintenance - size
    if denominator == 0:
        return None
    price = (summary.collateral - size * position.price - other_maintenance) / denominator
    return price if price > 0 else None
