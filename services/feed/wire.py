"""Domain values to feed.proto messages: decimals as strings, times as Timestamps."""

from __future__ import annotations

from decimal import Decimal

from dne.feed.v1 import feed_pb2
from services.common.decimals import to_wire
from services.common.timeutil import to_timestamp
from services.feed.chain_live import LivePrice
from services.feed.market_table import FundingMarketRow, MarketStatsRow
from services.feed.replay_market import ClockState, FundingRecordRow, MarketPrice

# Ages of a held price: the replay serves the held value as the oracle's reading at every
# instant of market time, so it is never stale on the replay clock (the live source reports
# the on-chain age instead).
HELD_PRICE_AGE_SECONDS = 0.0


def decimal(value: Decimal) -> str:
    # Decimal("0E+6") would print as "0000000"; a zero is a zero.
    return to_wire(value) if value else "0"


def funding_market(row: FundingMarketRow) -> feed_pb2.FundingMarket:
    return feed_pb2.FundingMarket(
        symbol=row.symbol,
        market_index=row.market_index,
        rate_1h=decimal(row.rate_1h),
        rate_8h=decimal(row.rate_8h),
        apr=decimal(row.apr),
        direction=row.direction,
        open_interest=decimal(row.open_interest),
        volume_24h=decimal(row.volume_24h),
        oracle_price=decimal(row.oracle_price),
        mark_price=decimal(row.mark_price),
        status=row.status,
        contract_type=row.contract_type,
        contract_tier=row.contract_tier,
        tradable=row.tradable,
        rate_source=row.rate_source,
        rate_period_start=to_timestamp(row.rate_period_start),
        margin_ratio_initial=decimal(row.margin_ratio_initial),
        margin_ratio_maintenance=decimal(row.margin_ratio_maintenance),
        estimated_next_rate_1h=(
            "" if row.estimated_next_rate_1h is None else decimal(row.estimated_next_rate_1h)
        ),
        not_tradable_reason=row.not_tradable_reason,
    )


def market_stats(stats: MarketStatsRow) -> feed_pb2.MarketStats:
    return feed_pb2.MarketStats(
        total_oi=decimal(stats.total_oi),
        volume_24h=decimal(stats.volume_24h),
        avg_funding=decimal(stats.avg_funding),
        avg_apr=decimal(stats.avg_apr),
        market_count=stats.market_count,
    )


def price(value: MarketPrice | LivePrice) -> feed_pb2.Price:
    if isinstance(value, LivePrice):
        return live_price(value)
    quote = value.quote
    return feed_pb2.Price(
        market=value.market,
        mark_price=decimal(quote.mark),
        oracle_price=decimal(quote.oracle),
        oracle_twap=decimal(quote.oracle_twap),
        as_of=to_timestamp(value.as_of),
        oracle_age_seconds=HELD_PRICE_AGE_SECONDS,
        mark_age_seconds=HELD_PRICE_AGE_SECONDS,
        price_source=str(quote.source),
    )


def live_price(value: LivePrice) -> feed_pb2.Price:
    """On-chain prices with their ages (oracle: slots x 0.4 s + seconds since read)."""
    return feed_pb2.Price(
        market=value.market,
        mark_price=decimal(value.mark),
        oracle_price=decimal(value.oracle),
        oracle_twap=decimal(value.oracle_twap),
        as_of=to_timestamp(value.as_of),
        oracle_age_seconds=value.oracle_age_seconds,
        mark_age_seconds=value.mark_age_seconds,
        price_source=value.source,
    )


def funding_record(row: FundingRecordRow) -> feed_pb2.FundingRecord:
    return feed_pb2.FundingRecord(
        market=row.market,
        period_start=to_timestamp(row.period_start),
        rate_1h=decimal(row.rate_1h),
        oracle_twap=decimal(row.oracle_twap),
        apr=decimal(row.apr),
        source=row.source,
    )


def clock(state: ClockState) -> feed_pb2.Clock:
    return feed_pb2.Clock(
        now=to_timestamp(state.now),
        speed=state.speed,
        paused=state.paused,
        start=to_timestamp(state.start),
        end=to_timestamp(state.end),
        mode=state.mode,
    )
