"""Whether a new position pays for its whole round trip: the engine's profitability and fee
guard (properties 25-28) as one pure function, so the gates and the backtester decide alike."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.engine import gates
from services.engine.settings import EngineSettings

ZERO = Decimal(0)


@dataclass(frozen=True)
class EntryCosts:
    """The settings that price a round trip and the revenue it must earn."""

    profit_horizon_hours: Decimal
    fee_guard_multiple: Decimal
    tip_lamports: int
    base_fee_lamports: int

    @classmethod
    def of(cls, settings: EngineSettings) -> EntryCosts:
        return cls(settings.profit_horizon_hours, settings.fee_guard_multiple,
                   settings.jito_tip_lamports, settings.base_fee_lamports)


@dataclass(frozen=True)
class EntryEconomics:
    revenue: Decimal                # expected over the horizon, at half the quoted rate
    round_trip: Decimal             # the perp in and out, and the spot legs when there are any
    parts: dict[str, Decimal]
    decision: gates.GateDecision


def assess_entry(*, size: Decimal, rate_1h: Decimal, price: Decimal, short: bool,
                 sol_price: Decimal, spot_sol: Decimal, costs: EntryCosts) -> EntryEconomics:
    """`spot_sol`: the spot SOL bought with the position (the carry's leg), sold again at the
    exit; `sol_price` converts the lamport fees."""
    perp = gates.estimate_cost(size * price, sol_price, costs.tip_lamports,
                               costs.base_fee_lamports)
    revenue = gates.expected_revenue(size, gates.conservative_rate(rate_1h), price,
                                     costs.profit_horizon_hours, short=short)
    spot_notional = spot_sol * price
    spot_legs = 2 * gates.estimate_cost(spot_notional, sol_price, costs.tip_lamports,
                                        costs.base_fee_lamports).total if spot_notional else ZERO
    round_trip = perp.total * 2 + spot_legs
    parts = {"cost_perp_entry": perp.total, "cost_perp_exit": perp.total,
             "cost_spot_legs": spot_legs}
    decision = gates.check_profitability(revenue, round_trip, costs.fee_guard_multiple, **parts)
    return EntryEconomics(revenue, round_trip, parts, decision)
