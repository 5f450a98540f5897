"""A Velocity market's row of the funding table, from its decoded account and its oracle.

As Drift's live rows (drift_live_rows.py): `rate_1h` is the last settled rate, for the hour
before its settlement; the oracle price is the oracle account's, or the one the market last
recorded when that cannot be read; the mark price is the AMM's reserve price (driftpy's
`calculate_price` on Velocity's reserves and peg, which kept their meaning). The row has no
estimate of the next rate: driftpy's estimator reads Drift's account, not Velocity's; the live
source adds Velocity's own (velocity_next_funding.py, in velocity_live.py).
"""

from __future__ import annotations

from decimal import Decimal

from driftpy.constants.numeric_constants import PRICE_PRECISION
from driftpy.math.amm import calculate_price

from services.common.oracle_reads import OracleReadings
from services.feed.funding_history import HourlyRate, RateSource
from services.feed.history_import import period_start_of
from services.feed.market_table import FundingMarketRow, funding_market_row
from services.feed.price_book import PriceQuote, PriceSource
from services.feed.velocity_chain import VelocityMarket


def oracle_price(market: VelocityMarket, readings: OracleReadings) -> Decimal:
    oracle = market.oracle
    data = readings.prices.get(oracle[0]) if oracle is not None else None
    if data is not None and data.price > 0:
        return Decimal(data.price) / PRICE_PRECISION
    return market.snapshot.oracle_price   # what the program last recorded


def mark_price_raw(market: VelocityMarket) -> int:
    """The AMM's reserve price, PRICE_PRECISION."""
    amm = market.values["amm"]
    return calculate_price(amm["base_asset_reserve"], amm["quote_asset_reserve"],
                           amm["peg_multiplier"])


def mark_price(market: VelocityMarket) -> Decimal:
    return Decimal(mark_price_raw(market)) / PRICE_PRECISION


def velocity_row(market: VelocityMarket, readings: OracleReadings) -> FundingMarketRow:
    snapshot = market.snapshot
    rate = HourlyRate(period_start_of(market.values["last_funding_rate_ts"]),
                      snapshot.hourly_rate, RateSource.ONCHAIN_LAST_SETTLED)
    quote = PriceQuote(oracle_price(market, readings), mark_price(market), PriceSource.ONCHAIN,
                       None)
    return funding_market_row(snapshot, rate, quote)
