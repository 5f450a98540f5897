"""The funding markets table and its stats, as design.md's FundingMarket defines them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.feed.drift_accounts import PerpMarketSnapshot
from services.feed.funding_history import HourlyRate
from services.feed.funding_math import apr_percent, rate_8h, receiving_side
from services.feed.price_book import PriceQuote

PERPETUAL = "perpetual"
ACTIVE = "active"
# Markets that have ended: listed only when the caller asks for untradable markets too.
ENDED_STATUSES = frozenset({"settlement", "delisted"})


@dataclass(frozen=True)
class FundingMarketRow:
    symbol: str
    market_index: int
    rate_1h: Decimal
    rate_8h: Decimal
    apr: Decimal
    direction: str
    open_interest: Decimal
    volume_24h: Decimal
    oracle_price: Decimal
    mark_price: Decimal
    status: str
    contract_type: str
    contract_tier: str
    tradable: bool
    not_tradable_reason: str
    rate_source: str
    rate_period_start: datetime
    margin_ratio_initial: Decimal
    margin_ratio_maintenance: Decimal
    # driftpy's estimate of the next hourly rate: only the live source has one.
    estimated_next_rate_1h: Decimal | None = None


@dataclass(frozen=True)
class MarketStatsRow:
    total_oi: Decimal
    volume_24h: Decimal
    avg_funding: Decimal
    avg_apr: Decimal
    market_count: int


def not_tradable_reason(snapshot: PerpMarketSnapshot) -> str:
    """Empty when the market is tradable: perpetual, active, funding not paused."""
    if snapshot.contract_type != PERPETUAL:
        return f"{snapshot.contract_type} market, not a perpetual: there is no funding carry"
    if snapshot.status == "funding_paused":
        return "funding is paused on this market (status funding_paused)"
    if snapshot.status in ENDED_STATUSES:
        return f"the market has ended (status {snapshot.status})"
    if snapshot.status != ACTIVE:
        return f"the market is not active (status {snapshot.status})"
    if snapshot.funding_update_paused:
        return "funding updates are paused on this market (paused_operations)"
    return ""


def listed_by_default(snapshot: PerpMarketSnapshot) -> bool:
    """Perpetuals are listed, paused ones too (shown as such); prediction and ended markets
    only on request."""
    return snapshot.contract_type == PERPETUAL and snapshot.status not in ENDED_STATUSES


def funding_market_row(
    snapshot: PerpMarketSnapshot, rate: HourlyRate, price: PriceQuote
) -> FundingMarketRow:
    reason = not_tradable_reason(snapshot)
    return FundingMarketRow(
        symbol=snapshot.symbol,
        market_index=snapshot.market_index,
        rate_1h=rate.rate_1h,
        rate_8h=rate_8h(rate.rate_1h),
        apr=apr_percent(rate.rate_1h),
        direction=receiving_side(rate.rate_1h),
        # USD, both sides: (long base + |short base|) x oracle price, as Drift's UI adds them.
        open_interest=snapshot.open_interest_base * price.oracle,
        volume_24h=snapshot.volume_24h,
        oracle_price=price.oracle,
        mark_price=price.mark,
        status=snapshot.status,
        contract_type=snapshot.contract_type,
        contract_tier=snapshot.contract_tier,
        tradable=not reason,
        not_tradable_reason=reason,
        rate_source=str(rate.source),
        rate_period_start=rate.period_start,
        margin_ratio_initial=snapshot.margin_ratio_initial,
        margin_ratio_maintenance=snapshot.margin_ratio_maintenance,
    )


def sort_by_apr(rows: Sequence[FundingMarketRow]) -> list[FundingMarketRow]:
    """Highest APR first; equal APRs by symbol so the order is stable."""
    return sorted(rows, key=lambda row: (-row.apr, row.symbol))


def market_stats(rows: Sequence[FundingMarketRow]) -> MarketStatsRow:
    """OI and volume over the perpetual markets (ended ones excluded); average funding over
    the tradable ones."""
    perpetuals = [
        row for row in rows if row.contract_type == PERPETUAL and row.status not in ENDED_STATUSES
    ]
    tradable = [row for row in perpetuals if row.tradable]
    avg_funding = (
        sum((row.rate_1h for row in tradable), Decimal(0)) / len(tradable)
        if tradable else Decimal(0)
    )
    return MarketStatsRow(
        total_oi=sum((row.open_interest for row in perpetuals), Decimal(0)),
        volume_24h=sum((row.volume_24h for row in perpetuals), Decimal(0)),
        avg_funding=avg_funding,
        avg_apr=apr_percent(avg_funding),
        market_count=len(perpetuals),
    )
