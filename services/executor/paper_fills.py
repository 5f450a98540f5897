"""Paper fills: the size-dependent slippage fill and how a fill changes a sub-account's position.

Pure functions on the paper state, so the money math is tested without a venue around it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from services.common.errors import DomainError, ErrorCode
from services.common.venue import Side
from services.executor import margin
from services.executor.paper_state import PaperPosition, SubAccount

ZERO = Decimal(0)
# Drift v2 precisions: price and quote 1e-6.
PRICE_STEP = Decimal("1e-6")
QUOTE_STEP = Decimal("1e-6")
DEFAULT_TAKER_FEE_RATE = Decimal("0.0002")


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def tx_signature(client_order_id: str) -> str:
    """Deterministic, so a replayed or restarted order shows the same signature."""
    return "paper:" + hashlib.sha256(client_order_id.encode()).hexdigest()


def payment_id(sub_account: int, market: str, period_start: datetime) -> str:
    return f"{sub_account}:{market}:{int(period_start.timestamp())}"


@dataclass(frozen=True)
class Fill:
    side: Side
    size: Decimal
    oracle_price: Decimal
    slippage: Decimal
    price: Decimal
    notional: Decimal
    fee: Decimal

    def check_limit(self, price_limit: Decimal | None) -> None:
        if price_limit is None:
            return
        worse = self.price > price_limit if self.side is Side.LONG else self.price < price_limit
        if worse:
            raise DomainError(
                ErrorCode.PRICE_LIMIT,
                f"fill price {self.price} is worse than the limit {price_limit} for a "
                f"{self.side.value} of {self.size} (oracle {self.oracle_price}, slippage "
                f"{self.slippage:.6%})",
            )


def simulate_fill(
    side: Side,
    size: Decimal,
    oracle_price: Decimal,
    *,
    slippage_scale: Decimal = margin.DEFAULT_SLIPPAGE_SCALE_USD,
    fee_rate: Decimal = DEFAULT_TAKER_FEE_RATE,
) -> Fill:
    """Oracle price moved against the taker by the size-dependent slippage (property 3), on
    Drift's price grid rounded against the taker; the fee rounds up to the quote grid."""
    slippage = margin.slippage_fraction(size * oracle_price, slippage_scale)
    if side is Side.LONG:
        price = (oracle_price * (1 + slippage)).quantize(PRICE_STEP, rounding=ROUND_CEILING)
    else:
        price = (oracle_price * (1 - slippage)).quantize(PRICE_STEP, rounding=ROUND_FLOOR)
    notional = size * price
    fee = (notional * fee_rate).quantize(QUOTE_STEP, rounding=ROUND_CEILING)
    return Fill(side, size, oracle_price, slippage, price, notional, fee)


def apply_perp_fill(account: SubAccount, market: str, fill: Fill) -> Decimal:
    """Trades `fill` into the account; answers the realized price PnL (to unsettled PnL).

    Increase: size-weighted entry. Reduce: realized PnL. Through zero: reduce, then the rest
    opens the other way at the fill price."""
    account.quote_balance -= fill.fee
    delta = fill.size * fill.side.sign
    position = account.positions.get(market)
    if position is None:
        account.positions[market] = PaperPosition(market, delta, fill.price)
        return ZERO
    old = position.signed_size
    if (old > 0) == (delta > 0):
        new_size = old + delta
        position.entry_price = (abs(old) * position.entry_price + fill.size * fill.price) / abs(
            new_size
        )
        position.signed_size = new_size
        return ZERO
    closed = min(abs(old), fill.size)
    sign = 1 if old > 0 else -1
    # The part of this position's price PnL settled earlier is already in the quote balance.
    already_settled = position.price_pnl_settled * closed / abs(old)
    position.price_pnl_settled -= already_settled
    realized = (fill.price - position.entry_price) * closed * sign - already_settled
    account.unsettled_pnl[market] = account.unsettled_pnl.get(market, ZERO) + realized
    remainder = fill.size - closed
    if remainder == 0 and closed == abs(old):
        del account.positions[market]
    elif remainder == 0:
        position.signed_size = old + delta
    else:  # through zero: a fresh position the other way
        account.positions[market] = PaperPosition(market, remainder * fill.side.sign, fill.price)
    return realized
