"""Funding payments of the live sub-account (property 33), read from Drift's accounts.

Each funding update (hourly, at amm.last_funding_rate_ts) adds that hour's rate to the market's
cumulative funding rates, long and short; a position's share is settled lazily, at its next
trade or settle, when its last_cumulative_funding_rate catches up. So a position still behind
its side's cumulative rate was open, at its current size, across the latest update, and was paid
that update's rate (amm.last_funding_rate_long or _short) times its size. That payment's id
names the sub-account, market and update (its time and the cumulative rate it left), so every
read gives the same one and the vault records it once.

Only the latest update can be read from the market account. The engine reads the account every
tick and updates are hourly, so each is seen; an update that a trade also settled before any
read (the executor down for the whole hour) is in the collateral and the position's funding PnL
but not listed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from driftpy.constants.numeric_constants import (
    AMM_RESERVE_PRECISION,
    FUNDING_RATE_BUFFER,
    FUNDING_RATE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)

from services.common.venue import FundingPayment, Side
from services.executor.drift.venue_view import VenueView

HOUR = timedelta(hours=1)


def funding_payments(view: VenueView, since: datetime | None = None) -> list[FundingPayment]:
    """The latest funding update's payment to each position still owed it; `since` keeps
    those settled at or after it (a payment for hour H is made at H + 1 h, as in paper)."""
    found = []
    for position in view.user_account().perp_positions:
        base = position.base_asset_amount
        if base == 0:
            continue
        amm = view.perp_market(position.market_index).amm
        long = base > 0
        cumulative = amm.cumulative_funding_rate_long if long else \
            amm.cumulative_funding_rate_short
        if position.last_cumulative_funding_rate == cumulative or not amm.last_funding_rate_ts:
            continue  # settled since the latest update, or opened after it
        rate = amm.last_funding_rate_long if long else amm.last_funding_rate_short
        if rate == 0:
            continue
        # driftpy's calculate_position_funding_pnl for one update, exact: quote units (1e-6)
        amount = -Decimal(rate) * base / AMM_RESERVE_PRECISION / FUNDING_RATE_BUFFER
        twap = Decimal(amm.historical_oracle_data.last_oracle_price_twap) / PRICE_PRECISION
        period_start = _period_start(amm.last_funding_rate_ts)
        if since is not None and period_start + HOUR < since:
            continue
        market = view.perp_symbol(position.market_index)
        found.append(FundingPayment(
            # the update's time and the cumulative rate it left: one id per update
            payment_id=f"{view.sub_account}:{market}:{amm.last_funding_rate_ts}:{cumulative}",
            market=market,
            period_start=period_start,
            rate_1h=Decimal(rate) / FUNDING_RATE_PRECISION / twap if twap else Decimal(0),
            side=Side.LONG if long else Side.SHORT,
            size=Decimal(abs(base)) / AMM_RESERVE_PRECISION,
            oracle_price=twap,
            amount=amount / QUOTE_PRECISION,
        ))
    return sorted(found, key=lambda payment: (payment.period_start, payment.market))


def _period_start(ts: int) -> datetime:
    """The hour an update pays for: it settles just after the hour it covers."""
    settled = datetime.fromtimestamp(ts, UTC)
    return (settled + timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0) - HOUR
