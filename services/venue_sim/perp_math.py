"""Drift's perp position arithmetic on the IDL's integers, as protocol-v2 does it.

- fill price: the oracle moved against the taker by a size-dependent slippage (0.1 % for a
  tiny order, towards 0.3 %: 0.001 + 0.002 (1 - e^(-notional/100 000 USD)), the paper venue's
  curve), on the market's tick grid rounded against the taker; quote = base x price, rounded
  against the taker too;
- controller/position.rs update_position_and_market: open/increase add the fill's quote to
  quote_entry and quote_break_even; reduce/close take their pro-rata share out (the difference
  is the realized PnL, left in quote_asset_amount); a flip starts both at the remainder;
  last_cumulative_funding_rate is set on open/flip and zeroed on close;
- controller/funding.rs settle_funding_payment: before any change the position is paid
  (cumulative rate delta x base / 1e9 / 1e3, longs pay a positive rate) into quote and break
  even, and the user's cumulative_perp_funding;
- perp_position.rs get_claimable_pnl: settle_pnl moves the unrealized PnL, positive PnL only
  up to quote - quote_entry (what closing realized; the PnL pool excess is taken as 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from services.venue_sim.drift_coder import replace

BASE_PRECISION = 10**9       # AMM_RESERVE_PRECISION: base amounts
PRICE_PRECISION = 10**6
FUNDING_RATE_BUFFER = 10**3  # FUNDING_RATE_PRECISION 1e9 / QUOTE_PRECISION 1e6
SLIPPAGE_MIN = Decimal("0.001")
SLIPPAGE_SPAN = Decimal("0.002")
SLIPPAGE_SCALE_USD = Decimal(100_000)


def slippage_fraction(notional_usd: Decimal) -> Decimal:
    if notional_usd <= 0:
        return SLIPPAGE_MIN
    return SLIPPAGE_MIN + SLIPPAGE_SPAN * (1 - (-notional_usd / SLIPPAGE_SCALE_USD).exp())


def fill_price(oracle_price: int, base: int, long: bool, tick: int) -> int:
    """PRICE_PRECISION fill price of a taker of `base` (BASE_PRECISION) against the AMM."""
    notional = Decimal(base) / BASE_PRECISION * Decimal(oracle_price) / PRICE_PRECISION
    moved = Decimal(oracle_price) * (1 + slippage_fraction(notional) * (1 if long else -1))
    ticks = (moved / max(tick, 1)).to_integral_value(ROUND_CEILING if long else ROUND_FLOOR)
    return int(ticks) * max(tick, 1)


def fill_quote(base: int, price: int, long: bool) -> int:
    """QUOTE_PRECISION amount of a fill: a long pays it rounded up, a short receives it down."""
    product = base * price
    return -(-product // BASE_PRECISION) if long else product // BASE_PRECISION


def taker_fee(quote: int, numerator: int, denominator: int, fee_adjustment: int) -> int:
    """fees.rs: quote x numerator / denominator rounded up, then the market's fee_adjustment
    (percent)."""
    fee = -(-quote * numerator // denominator)
    if fee_adjustment:
        fee = fee * (100 + fee_adjustment) // 100
    return fee


def funding_payment(cumulative_rate: int, position: object) -> int:
    """funding.rs calculate_funding_payment: quote the position receives (negative: pays)."""
    delta = cumulative_rate - position.last_cumulative_funding_rate
    base = position.base_asset_amount
    if delta == 0 or base == 0:
        return 0
    magnitude = abs(delta) * abs(base) // BASE_PRECISION // FUNDING_RATE_BUFFER
    return magnitude * (-1 if base > 0 else 1) * (1 if delta > 0 else -1)


def settle_funding(position: object, rate_long: int, rate_short: int) -> tuple[object, int]:
    """The position after funding.rs settle_funding_payment, and the payment."""
    if position.base_asset_amount == 0:
        return position, 0
    rate = rate_long if position.base_asset_amount > 0 else rate_short
    if rate == position.last_cumulative_funding_rate:
        return position, 0
    payment = funding_payment(rate, position)
    return replace(position, last_cumulative_funding_rate=rate,
                   quote_asset_amount=position.quote_asset_amount + payment,
                   quote_break_even_amount=position.quote_break_even_amount + payment), payment


@dataclass(frozen=True)
class PositionDelta:
    base: int    # signed: + buys base (long taker)
    quote: int   # signed: - pays quote


def _pro_rata(amount: int, part: int, whole: int) -> int:
    """Rust's i128 a * |part| / |whole| (truncating toward zero)."""
    product = amount * abs(part)
    quotient = abs(product) // abs(whole)
    return quotient if product >= 0 else -quotient


def update_position(position: object, delta: PositionDelta, rate_long: int,
                    rate_short: int) -> tuple[object, int]:
    """position.rs update_position_and_market for the user's side: the new position and the
    realized PnL."""
    base, quote = position.base_asset_amount, position.quote_asset_amount
    new_base = base + delta.base
    if base == 0:
        kind = "open"
    elif (base > 0) == (delta.base > 0):
        kind = "increase"
    elif abs(delta.base) < abs(base):
        kind = "reduce"
    elif abs(delta.base) == abs(base):
        kind = "close"
    else:
        kind = "flip"
    entry, break_even = position.quote_entry_amount, position.quote_break_even_amount
    if kind in ("open", "increase"):
        new_entry, new_break_even, pnl = entry + delta.quote, break_even + delta.quote, 0
    elif kind in ("reduce", "close"):
        new_entry = entry - _pro_rata(entry, delta.base, base)
        new_break_even = break_even - _pro_rata(break_even, delta.base, base)
        pnl = entry - new_entry + delta.quote
    else:
        new_entry = delta.quote - _pro_rata(delta.quote, base, delta.base)
        new_break_even = new_entry
        pnl = entry + delta.quote - new_entry
    funding = position.last_cumulative_funding_rate
    if kind == "close":
        funding = 0
    elif kind in ("open", "flip"):
        funding = rate_long if new_base > 0 else rate_short
    return replace(position, base_asset_amount=new_base, quote_asset_amount=quote + delta.quote,
                   quote_entry_amount=new_entry, quote_break_even_amount=new_break_even,
                   last_cumulative_funding_rate=funding), pnl


def unrealized_pnl(position: object, oracle_price: int) -> int:
    """base value at the oracle (rounded as the program: toward zero) plus quote."""
    value = position.base_asset_amount * oracle_price
    value = value // BASE_PRECISION if value >= 0 else -(-value // BASE_PRECISION)
    return value + position.quote_asset_amount


def claimable_pnl(position: object, oracle_price: int) -> int:
    pnl = unrealized_pnl(position, oracle_price)
    if pnl <= 0:
        return pnl
    return min(pnl, max(position.quote_asset_amount - position.quote_entry_amount, 0))
