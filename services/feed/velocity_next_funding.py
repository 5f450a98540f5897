"""The estimate of a Velocity market's next funding rate, from its decoded account and a live
oracle price: TWAPs projected to now, then Velocity's own rules (velocity_funding.py).

The projection is the Velocity SDK's (github.com/velocity-exchange/velocity-v1
`packages/sdk/src/math/funding.ts` @ 0b0fd8422cf02d2ed9035f85d0cf0d7c55613909:
`calculateLiveMarkTwap` with its re-seed after MARK_TWAP_RESEED_FUNDING_PERIODS (3) stale periods,
`shrinkStaleTwaps`; `math/oracles.ts`: `calculateLiveOracleTwap`), the same shape as driftpy's
projection for Drift. Unlike the SDK, whose long/short split is an approximation
(`cappedAltEst`), the rate from the projected TWAPs goes through the program's own
`update_funding_rate` math and payout cap. As for Drift, the mark price given is the AMM's
reserve price: the program samples its quoter's execution price (ask or bid by spread) and its
guard-railed TWAP updates, which a reader of the account cannot reproduce; so this is an estimate.

A paused funding update (the State's FundingPaused bit, or the market's UpdateFunding operation
bit) gives no rate, only the reason: the program will not update funding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.common.exchange_status import ExchangeBits
from services.feed.drift_accounts import PERP_OPERATION_UPDATE_FUNDING, hourly_rate_fraction
from services.feed.funding_math import apr_percent
from services.feed.velocity_funding import (
    ONE_HOUR,
    FundingInputs,
    funding_rate,
    long_short_rates,
    seconds_until_update,
    trunc_div,
)

MARK_TWAP_RESEED_FUNDING_PERIODS = 3   # velocity-v1 math/constants.rs


@dataclass(frozen=True)
class NextFunding:
    """The next funding update as the program would compute it now; no rates when paused."""

    paused_reason: str              # non-empty: no funding update runs, and why
    next_update_at: datetime
    mark_twap: int                  # projected, PRICE_PRECISION
    oracle_twap: int                # projected, PRICE_PRECISION
    funding_rate: int | None        # per period, FUNDING_RATE_PRECISION, before the cap
    rate_long_1h: Decimal | None    # fraction of the oracle TWAP per hour that longs pay
    rate_short_1h: Decimal | None   # ... that shorts receive

    @property
    def apr_long(self) -> Decimal | None:
        return None if self.rate_long_1h is None else apr_percent(self.rate_long_1h)


def live_oracle_twap(history: dict[str, Any], oracle_price: int, now: int, period: int) -> int:
    """calculateLiveOracleTwap: the stored TWAP blended with the live price, clamped to 1/3."""
    twap = history["last_oracle_price_twap"]
    since_last = max(1, now - history["last_oracle_price_twap_ts"])
    since_start = max(0, period - since_last)
    clamp_range = trunc_div(twap, 3)
    clamped = min(twap + clamp_range, max(oracle_price, twap - clamp_range))
    return trunc_div(twap * since_start + clamped * since_last, since_start + since_last)


def live_mark_twap(stats: dict[str, Any], mark_price: int, now: int, period: int) -> int:
    """calculateLiveMarkTwap: a mark TWAP unwritten for 3 periods is re-seeded from the oracle
    TWAP, as MarketStats::update_mark_twap does."""
    since_last = now - stats["last_mark_price_twap_ts"]
    if since_last > max(stats["funding_period"] * MARK_TWAP_RESEED_FUNDING_PERIODS, ONE_HOUR):
        return stats["historical_oracle_data"]["last_oracle_price_twap"]
    weight = max(period, max(0, period - since_last))
    return trunc_div(weight * stats["last_mark_price_twap"] + since_last * mark_price,
                     since_last + weight)


def shrink_stale_twaps(stats: dict[str, Any], mark_twap: int, oracle_twap: int,
                       now: int) -> tuple[int, int]:
    """shrinkStaleTwaps: the TWAP that was not updated is pulled toward the other one."""
    mark_ts = stats["last_mark_price_twap_ts"]
    oracle_ts = stats["historical_oracle_data"]["last_oracle_price_twap_ts"]
    period = stats["funding_period"]
    if mark_ts > oracle_ts:
        invalid = max(0, mark_ts - oracle_ts)
        weight = max(1, min(period, max(1, period - (now - oracle_ts))))
        oracle_twap = trunc_div(weight * oracle_twap + invalid * mark_twap, weight + invalid)
    elif mark_ts < oracle_ts:
        tradeless = max(0, oracle_ts - mark_ts)
        weight = max(1, min(period, max(1, period - (now - mark_ts))))
        mark_twap = trunc_div(weight * mark_twap + tradeless * oracle_twap, weight + tradeless)
    return mark_twap, oracle_twap


def funding_paused_reason(market: dict[str, Any], exchange_status: int) -> str:
    if exchange_status & ExchangeBits.FUNDING_PAUSED:
        return (f"funding is paused on the whole program (exchange_status "
                f"0x{exchange_status:02X} has FundingPaused): no funding update runs")
    if market["paused_operations"] & PERP_OPERATION_UPDATE_FUNDING:
        return ("funding updates are paused on this market (paused_operations UpdateFunding): "
                "no funding update runs")
    return ""


def funding_inputs(market: dict[str, Any], mark_twap: int, oracle_twap: int) -> FundingInputs:
    return FundingInputs(
        mark_twap=mark_twap, oracle_twap=oracle_twap,
        funding_period=market["market_stats"]["funding_period"],
        contract_tier=market["contract_tier"],
        funding_clamp_threshold=market["funding_clamp_threshold"],
        funding_ramp_slope=market["funding_ramp_slope"],
        net_counterparty_position=market["amm"]["base_asset_amount_with_amm"],
        base_asset_amount_long=market["base_asset_amount_long"],
        base_asset_amount_short=market["base_asset_amount_short"],
        total_fee_minus_distributions=market["amm"]["total_fee_minus_distributions"],
    )


def per_hour(rate: int, oracle_twap: int, funding_period: int) -> Decimal:
    """A period's rate as a fraction of the oracle TWAP per hour."""
    hours = Decimal(funding_period if funding_period > 0 else ONE_HOUR) / ONE_HOUR
    return hourly_rate_fraction(rate, oracle_twap) / hours


def next_funding(market: dict[str, Any], oracle_price: int, mark_price: int, now: int,
                 exchange_status: int = 0) -> NextFunding:
    """`market` is a decoded Velocity PerpMarket (anchor_idl's dict); prices PRICE_PRECISION;
    `now` unix seconds; `exchange_status` the State's bits."""
    stats = market["market_stats"]
    period = stats["funding_period"]
    wait = seconds_until_update(now, market["last_funding_rate_ts"], period)
    mark_twap, oracle_twap = shrink_stale_twaps(
        stats, live_mark_twap(stats, mark_price, now, period),
        live_oracle_twap(stats["historical_oracle_data"], oracle_price, now, period), now)
    paused = funding_paused_reason(market, exchange_status)
    at = datetime.fromtimestamp(now + wait, UTC)
    if paused or oracle_twap <= 0:
        return NextFunding(paused or "no oracle TWAP to compute funding against", at,
                           mark_twap, oracle_twap, None, None, None)
    inputs = funding_inputs(market, mark_twap, oracle_twap)
    rates = long_short_rates(inputs, funding_rate(inputs))
    return NextFunding("", at, mark_twap, oracle_twap, rates.rate,
                       per_hour(rates.long, oracle_twap, period),
                       per_hour(rates.short, oracle_twap, period))
