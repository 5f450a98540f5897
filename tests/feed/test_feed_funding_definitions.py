"""FundingMarket's definitions (design.md, DriftFundingFeed.FundingMarket) hold for any rate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.feed.drift_accounts import load_latest_perp_markets
from services.feed.funding_history import HourlyRate, RateSource
from services.feed.funding_math import apr_percent, rate_8h, receiving_side
from services.feed.market_table import FundingMarketRow, funding_market_row
from services.feed.price_book import PriceQuote, PriceSource
from tests.kit.feed_builders import DATA_DIR

SNAPSHOTS = load_latest_perp_markets(DATA_DIR)
# Hourly rates as fractions: Drift's caps are well inside +-1 % per hour.
hourly_rates = st.decimals(min_value=Decimal("-0.01"), max_value=Decimal("0.01"), places=12)
prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("200000"), places=6)
markets = st.sampled_from(sorted(SNAPSHOTS))


def row_for(symbol: str, rate: Decimal, price: Decimal) -> FundingMarketRow:
    hour = HourlyRate(datetime(2026, 1, 15, 11, tzinfo=UTC), rate, RateSource.SNAPSHOT_HELD)
    quote = PriceQuote(price, price, PriceSource.SCENARIO, None)
    return funding_market_row(SNAPSHOTS[symbol], hour, quote)


@settings(max_examples=100)
@given(symbol=markets, rate=hourly_rates, price=prices)
def test_funding_market_rate_8h_is_eight_times_rate_1h(
    symbol: str, rate: Decimal, price: Decimal
) -> None:
    row = row_for(symbol, rate, price)
    assert row.rate_1h == rate
    assert row.rate_8h == rate * 8 == rate_8h(rate)


@settings(max_examples=100)
@given(symbol=markets, rate=hourly_rates, price=prices)
def test_funding_market_apr_is_rate_1h_times_24_times_365_in_percent(
    symbol: str, rate: Decimal, price: Decimal
) -> None:
    row = row_for(symbol, rate, price)
    assert row.apr == rate * 24 * 365 * 100 == apr_percent(rate)
    assert (row.apr > 0) == (rate > 0)


@settings(max_examples=100)
@given(symbol=markets, rate=hourly_rates, price=prices)
def test_funding_market_direction_is_shorts_exactly_when_longs_pay(
    symbol: str, rate: Decimal, price: Decimal
) -> None:
    row = row_for(symbol, rate, price)
    assert row.direction == ("shorts" if rate > 0 else "longs") == receiving_side(rate)


@settings(max_examples=100)
@given(symbol=markets, rate=hourly_rates, price=prices)
def test_funding_market_open_interest_is_both_sides_in_usd_at_the_oracle_price(
    symbol: str, rate: Decimal, price: Decimal
) -> None:
    row = row_for(symbol, rate, price)
    snapshot = SNAPSHOTS[symbol]
    assert row.open_interest == (snapshot.base_long + abs(snapshot.base_short)) * price
    assert row.open_interest >= 0
