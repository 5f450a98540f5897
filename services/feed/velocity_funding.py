"""Velocity's funding rules, as its program computes them: integer math at its precisions.

Ported from github.com/velocity-exchange/velocity-v1 (Apache-2.0), the newest stored versions:

- `programs/velocity/src/controller/funding.rs` @ 016887dff7e1f012f57e39db3579635e5c776002,
  `update_funding_rate`: period adjustment (24 h / max(1 h, funding_period)), premium =
  mark TWAP - oracle TWAP, the offset oracle_twap / FUNDING_RATE_OFFSET_DENOMINATOR, the
  per-market dead zone (`funding_clamp_threshold`, bps of the oracle TWAP), the contract tier's
  divergence clamp, rate = clamped x FUNDING_RATE_BUFFER / period adjustment; an update runs only
  when `!funding_paused && !block_operation && on_the_hour_update == 0`.
- `programs/velocity/src/math/funding.rs` @ 78b6330ecb11e15290b7951f90cbb761f889cec3:
  `calculate_funding_premium_with_offset` (dead zone and ramp), `calculate_funding_rate_long_short`
  and `calculate_capped_funding_rate` (the AMM pays at most a third of its
  `total_fee_minus_distributions` per period: `available_fees`; bf947a2c... writes the same
  bound as `fee_pool / 3`), `_calculate_funding_payment`, `calculate_funding_rate_from_pnl_limit`.
- `programs/velocity/src/math/constants.rs` @ 016887dff7e1...: FUNDING_RATE_OFFSET_DENOMINATOR =
  3333 (10.95 % a year for hourly funding; Drift's is 5000, 7.3 %), BPS_PRECISION 1e4,
  PERCENTAGE_PRECISION 1e6, FUNDING_RATE_BUFFER 1e3, QUOTE_TO_BASE_AMT_FUNDING_PRECISION 1e12.
- `programs/velocity/src/math/helpers.rs` @ 78b6330e...: `on_the_hour_update`.
- `state/perp_market.rs` (the Velocity file the index holds; commit not named by it):
  `get_max_price_divergence_for_funding_rate`: tiers A and B 1/33, C 1/20, the rest 1/10.
- Who pauses funding: `funding_paused = state.funding_paused() ||
  market.is_operation_paused(PerpOperation::UpdateFunding)` (controller/orders.rs, the fill
  path). Velocity has no FundingPaused MarketStatus.

Rust's integer division truncates toward zero; `trunc_div` does the same (Python's `//` floors).

Not matched to source: the IDL (2.165.0) was taken at 0077e03b40a03217c254e045f78eaaf7ee4c14b7,
and no stored version of these files is at that commit, so the versions above are the nearest the
index holds (they name `funding_clamp_threshold`/`funding_ramp_slope`, which the IDL has). The
oracle/mark divergence block (`oracle::block_operation`, guard rails in the State) is not ported.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_PRECISION = 1_000_000
FUNDING_RATE_BUFFER = 1_000
FUNDING_RATE_PRECISION = PRICE_PRECISION * FUNDING_RATE_BUFFER
AMM_TO_QUOTE_PRECISION_RATIO = 1_000          # AMM_RESERVE_PRECISION / QUOTE_PRECISION
QUOTE_TO_BASE_AMT_FUNDING_PRECISION = 10**12  # 1e9 x FUNDING_RATE_PRECISION / 1e6
BPS_PRECISION = 10_000
PERCENTAGE_PRECISION = 1_000_000
FUNDING_RATE_OFFSET_DENOMINATOR = 3333
ONE_HOUR = 3600
TWENTY_FOUR_HOURS = 24 * ONE_HOUR
AMM_FEE_SHARE_DIVISOR = 3   # the AMM pays at most 1/3 of its retained fees per period

# get_max_price_divergence_for_funding_rate: the premium is clamped to oracle TWAP / divisor.
DIVERGENCE_DIVISORS = {"A": 33, "B": 33, "C": 20}
OTHER_TIER_DIVISOR = 10


def trunc_div(numerator: int, denominator: int) -> int:
    """Integer division toward zero, as Rust's `/` and BN's `div`."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def sign(value: int) -> int:
    return (value > 0) - (value < 0)


@dataclass(frozen=True)
class FundingInputs:
    """The account's numbers one funding update reads, raw, at the program's precisions."""

    mark_twap: int                    # PRICE_PRECISION
    oracle_twap: int                  # PRICE_PRECISION
    funding_period: int               # seconds (market_stats.funding_period)
    contract_tier: str                # IDL variant: "A", "B", "C", "Speculative", ...
    funding_clamp_threshold: int      # dead zone, BPS_PRECISION of the oracle TWAP
    funding_ramp_slope: int           # PERCENTAGE_PRECISION: 1e6 passes the premium through
    net_counterparty_position: int    # amm.base_asset_amount_with_amm, BASE_PRECISION
    base_asset_amount_long: int       # >= 0, BASE_PRECISION
    base_asset_amount_short: int      # <= 0, BASE_PRECISION
    total_fee_minus_distributions: int  # the AMM's retained fees, QUOTE_PRECISION


@dataclass(frozen=True)
class FundingRates:
    """One period's rates (quote per base, FUNDING_RATE_PRECISION) and the AMM's funding PnL."""

    rate: int          # before the payout cap: what FundingRateRecord.funding_rate holds
    long: int          # what longs pay (negative: receive)
    short: int         # what shorts receive (negative: pay)
    amm_pnl: int       # QUOTE_PRECISION; negative: the AMM pays


def funding_rate_offset(oracle_twap: int) -> int:
    """The floor premium: |oracle TWAP| / 3333, i.e. 10.95 % a year paid by longs."""
    return abs(oracle_twap) // FUNDING_RATE_OFFSET_DENOMINATOR


def dead_zone(oracle_twap: int, clamp_threshold_bps: int) -> int:
    """The dead zone's half-width as a price delta off the oracle TWAP."""
    return abs(oracle_twap) * clamp_threshold_bps // BPS_PRECISION


def premium_with_offset(price_spread: int, threshold: int, ramp_slope: int, offset: int) -> int:
    """calculate_funding_premium_with_offset: inside the dead zone the offset alone; past it the
    spread shrunk toward zero by the zone, times the ramp slope, plus the offset."""
    if abs(price_spread) <= threshold:
        return offset
    shrunk = price_spread - sign(price_spread) * threshold
    return trunc_div(shrunk * ramp_slope, PERCENTAGE_PRECISION) + offset


def max_price_divergence(contract_tier: str, oracle_twap: int) -> int:
    return trunc_div(oracle_twap, DIVERGENCE_DIVISORS.get(contract_tier, OTHER_TIER_DIVISOR))


def period_adjustment(funding_period: int) -> int:
    """How many periods a day's premium is spread over (24 for hourly funding)."""
    return TWENTY_FOUR_HOURS // max(ONE_HOUR, funding_period)


def funding_rate(inputs: FundingInputs) -> int:
    """One period's funding rate before the payout cap (update_funding_rate's `funding_rate`)."""
    premium = premium_with_offset(
        inputs.mark_twap - inputs.oracle_twap,
        dead_zone(inputs.oracle_twap, inputs.funding_clamp_threshold),
        inputs.funding_ramp_slope,
        funding_rate_offset(inputs.oracle_twap),
    )
    limit = max_price_divergence(inputs.contract_tier, inputs.oracle_twap)
    clamped = max(-limit, min(limit, premium))
    return trunc_div(clamped * FUNDING_RATE_BUFFER, period_adjustment(inputs.funding_period))


def funding_payment(rate: int, base_asset_amount: int) -> int:
    """_calculate_funding_payment: what a position pays (negative) or receives, 1e9 precision."""
    magnitude = abs(rate) * abs(base_asset_amount) // PRICE_PRECISION // FUNDING_RATE_BUFFER
    rate_sign = 1 if rate > 0 else -1
    position_sign = -1 if base_asset_amount > 0 else 1   # longs pay a positive rate
    return magnitude * position_sign * rate_sign


def funding_payment_in_quote(rate: int, base_asset_amount: int) -> int:
    return trunc_div(funding_payment(rate, base_asset_amount), AMM_TO_QUOTE_PRECISION_RATIO)


def amm_payout_limit(total_fee_minus_distributions: int) -> int:
    """The most the AMM may pay in one period (negative): a third of its retained fees."""
    return -(max(total_fee_minus_distributions, 0) // AMM_FEE_SHARE_DIVISOR)


def rate_from_pnl_limit(pnl_limit: int, base_asset_amount: int) -> int:
    if base_asset_amount == 0:
        return 0
    biased = pnl_limit + 1 if pnl_limit < 0 else pnl_limit
    return trunc_div(biased * QUOTE_TO_BASE_AMT_FUNDING_PRECISION, base_asset_amount)


def long_short_rates(inputs: FundingInputs, rate: int) -> FundingRates:
    """calculate_funding_rate_long_short: the receiving side gets less when the AMM, paying the
    imbalance, would spend more than its payout limit."""
    uncapped_pnl = -funding_payment_in_quote(rate, inputs.net_counterparty_position)
    if uncapped_pnl >= 0:   # the AMM earns: both sides at the full rate
        return FundingRates(rate, rate, rate, uncapped_pnl)
    limit = amm_payout_limit(inputs.total_fee_minus_distributions)
    capped_pnl = max(uncapped_pnl, limit)
    capped = rate
    if uncapped_pnl < limit:
        payers = inputs.base_asset_amount_long if rate > 0 else inputs.base_asset_amount_short
        from_users = funding_payment_in_quote(rate, payers)
        receivers = inputs.base_asset_amount_long if rate < 0 else inputs.base_asset_amount_short
        capped = rate_from_pnl_limit(limit - abs(from_users), receivers)
    return FundingRates(rate, capped if rate < 0 else rate, capped if rate > 0 else rate,
                        capped_pnl)


def seconds_until_update(now: int, last_update_ts: int, update_period: int) -> int:
    """on_the_hour_update: seconds until the next funding update may run (0: it may now)."""
    since_last = now - last_update_ts
    wait = update_period
    if update_period > 1:
        delay = last_update_ts % update_period   # rem_euclid: the period is positive
        if delay != 0:
            two_periods = update_period * 2
            # Too late for the next hour's update: the one after.
            late = delay > update_period // 3
            wait = two_periods - delay if late else update_period - delay
            if wait > two_periods:
                wait -= update_period
    return max(wait - since_last, 0)
