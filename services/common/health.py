"""Account health, one definition for every service (property 2).

Drift's on-chain definition, the one driftpy's `User.get_health` computes: 100 with no margin
requirement, 0 with no collateral, else 100 x (1 - M / C) clamped to [0, 100]. design.md's literal
"(C / M) x 100" contradicts its own glossary (100 % safe, 0 % liquidated); see the README.
"""

from __future__ import annotations

from decimal import Decimal

ZERO = Decimal(0)
HUNDRED = Decimal(100)


def health_ratio(collateral: Decimal, maintenance_margin: Decimal) -> Decimal:
    if maintenance_margin <= 0 and collateral >= 0:
        return HUNDRED
    if collateral <= 0:
        return ZERO
    return min(HUNDRED, max(ZERO, HUNDRED * (1 - maintenance_margin / collateral)))
