"""One live market's numbers from its decoded account and oracle, with driftpy's math.

- rate_1h: the last settled rate, amm.last_funding_rate / FUNDING_RATE_PRECISION over
  last_oracle_price_twap / PRICE_PRECISION (drift_accounts.perp_market_snapshot, shared with
  the replay), for the hour before its settlement (history_import.period_start_of).
- estimated_next_rate_1h: driftpy's calculate_long_short_funding_and_live_twaps, the long
  side's rate, given the AMM reserve price as mark price (without one driftpy computes a bid/ask
  spread that asserts on some real accounts). driftpy answers an hourly percentage in
  PRICE_PRECISION, so the fraction is rate / PRICE_PRECISION / 100.
- oracle age: slots between the RPC's slot and the oracle's last update (the market's
  amm.last_update_slot when the oracle cannot be read); seconds = slots x 0.4 s, Solana's target
  slot time, not a measured duration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from driftpy.constants.numeric_constants import PRICE_PRECISION
from driftpy.math.amm import calculate_price
from driftpy.math.funding import calculate_long_short_funding_and_live_twaps
from driftpy.types import OraclePriceData

from services.feed.drift_accounts import PerpMarketSnapshot, perp_market_snapshot
from services.feed.drift_chain import OracleReadings, oracle_of
from services.feed.funding_history import HourlyRate, RateSource
from services.feed.history_import import period_start_of
from services.feed.market_table import FundingMarketRow, funding_market_row
from services.feed.price_book import PriceQuote, PriceSource

log = logging.getLogger(__name__)

SECONDS_PER_SLOT = 0.4          # Solana's target slot time: ages in seconds are estimates
PERCENT = 100
ORACLE_SOURCE = PriceSource.ONCHAIN.value
ACCOUNT_ORACLE_SOURCE = "onchain_market_account"   # the oracle could not be read


@dataclass(frozen=True)
class LiveOracle:
    """A market's oracle reading: from its oracle account, or the market's last recorded one."""

    data: OraclePriceData
    last_update_slot: int
    from_oracle_account: bool

    @property
    def price(self) -> Decimal:
        return Decimal(self.data.price) / PRICE_PRECISION


def live_oracle(market: Any, readings: OracleReadings) -> LiveOracle:
    oracle = oracle_of(market)
    data = readings.prices.get(oracle[0]) if oracle is not None else None
    history = market.amm.historical_oracle_data
    if data is not None and data.price > 0:
        return LiveOracle(data, int(data.slot or market.amm.last_update_slot), True)
    # No readable oracle: the price the program last saw, in driftpy's own type.
    fallback = OraclePriceData(
        price=history.last_oracle_price, slot=market.amm.last_update_slot,
        confidence=history.last_oracle_conf, twap=history.last_oracle_price_twap,
        twap_confidence=0, has_sufficient_number_of_data_points=True,
    )
    return LiveOracle(fallback, int(market.amm.last_update_slot), False)


def age_slots(rpc_slot: int, last_update_slot: int) -> int:
    return max(0, rpc_slot - last_update_slot)


def slots_to_seconds(slots: int) -> float:
    return slots * SECONDS_PER_SLOT


def mark_price_raw(market: Any) -> int:
    """The AMM's reserve price (driftpy's calculate_price), PRICE_PRECISION."""
    amm = market.amm
    return calculate_price(amm.base_asset_reserve, amm.quote_asset_reserve, amm.peg_multiplier)


async def estimated_next_rate(
    market: Any, oracle: OraclePriceData, mark_price: int, now: int
) -> Decimal | None:
    """driftpy's estimate of the next hourly rate (long side) as a fraction; None if it fails."""
    try:
        _mark_twap, _oracle_twap, long_rate, _short_rate = (
            await calculate_long_short_funding_and_live_twaps(market, oracle, mark_price, now)
        )
    except (ArithmeticError, AssertionError, ValueError) as error:
        log.warning("driftpy could not estimate the next funding rate", extra={
            "market_index": int(market.market_index), "error": repr(error)})
        return None
    return Decimal(int(long_rate)) / PRICE_PRECISION / PERCENT


@dataclass(frozen=True)
class LiveMarket:
    """One market as read: its account, scaled snapshot, oracle, mark and table row."""

    account: Any
    snapshot: PerpMarketSnapshot
    oracle: LiveOracle
    mark_price: Decimal
    row: FundingMarketRow


async def live_market(
    market: Any, readings: OracleReadings, now: datetime, source: str
) -> LiveMarket:
    snapshot = perp_market_snapshot(market, source)
    oracle = live_oracle(market, readings)
    mark_raw = mark_price_raw(market)
    mark = Decimal(mark_raw) / PRICE_PRECISION
    rate = HourlyRate(
        period_start_of(int(market.amm.last_funding_rate_ts)), snapshot.hourly_rate,
        RateSource.ONCHAIN_LAST_SETTLED,
    )
    quote = PriceQuote(oracle.price, mark, PriceSource.ONCHAIN, None)
    estimate = await estimated_next_rate(market, oracle.data, mark_raw, int(now.timestamp()))
    row = replace(funding_market_row(snapshot, rate, quote), estimated_next_rate_1h=estimate)
    return LiveMarket(market, snapshot, oracle, mark, row)


class DriftRows:
    """Drift's rows for the live source (live_venue.LiveRows): driftpy's accounts and estimate."""

    source_name = "drift"
    venue_label = "Drift"
    decoded_by = "driftpy"
    market_list = "driftpy's mainnet list"

    def market_index(self, account: Any) -> int:
        return int(account.market_index)

    async def live_market(self, account: Any, chain: Any, now: datetime,
                          source: str) -> LiveMarket:
        return await live_market(account, chain.oracles, now, source)

    def live_oracle(self, account: Any, readings: OracleReadings) -> LiveOracle:
        return live_oracle(account, readings)

    def notes(self, chain: Any) -> list[str]:
        return [
            "rate_1h is each market's last settled hourly rate (amm.last_funding_rate over the "
            "oracle TWAP; rate_period_start is the hour it covers); estimated_next_rate_1h is "
            "driftpy's estimate of the next hour for longs, from live TWAPs with the AMM reserve "
            "price as mark price.",
        ]


DRIFT_ROWS = DriftRows()
