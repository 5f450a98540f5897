"""Velocity's funding rules (feed/velocity_funding.py, velocity_next_funding.py): properties of
the floor, the dead zone and ramp, the tier clamp and the AMM's payout cap, and known answers
worked by hand from velocity-v1's formulas (controller/funding.rs, math/funding.rs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from driftpy.math.amm import calculate_price
from hypothesis import given, settings
from hypothesis import strategies as st

from services.feed.settings import DEFAULT_DATA_DIR
from services.feed.velocity_accounts import velocity_decoder
from services.feed.velocity_funding import (
    FundingInputs,
    amm_payout_limit,
    dead_zone,
    funding_rate,
    funding_rate_offset,
    long_short_rates,
    max_price_divergence,
    premium_with_offset,
    seconds_until_update,
)
from services.feed.velocity_next_funding import next_funding, per_hour
from services.venue_sim.velocity_markets import reencoded_perp_markets

ONE_DOLLAR = 1_000_000                 # PRICE_PRECISION
BASE = 1_000_000_000                   # BASE_PRECISION
HOURLY = 3600
TIERS = ["A", "B", "C", "Speculative", "HighlySpeculative", "Isolated"]


def inputs(**changes: Any) -> FundingInputs:
    balanced = FundingInputs(
        mark_twap=100 * ONE_DOLLAR, oracle_twap=100 * ONE_DOLLAR, funding_period=HOURLY,
        contract_tier="B", funding_clamp_threshold=5, funding_ramp_slope=1_000_000,
        net_counterparty_position=0, base_asset_amount_long=0, base_asset_amount_short=0,
        total_fee_minus_distributions=0,
    )
    return replace(balanced, **changes)


def apr(rate: int, oracle_twap: int) -> Decimal:
    return per_hour(rate, oracle_twap, HOURLY) * 24 * 365 * 100


oracle_twaps = st.integers(min_value=10 * ONE_DOLLAR, max_value=200_000 * ONE_DOLLAR)
thresholds = st.integers(min_value=0, max_value=9_999)        # < BPS_PRECISION, as admin.rs
slopes = st.integers(min_value=0, max_value=10_000_000)       # 0 .. 10x


# ---- the floor and the dead zone ---------------------------------------------------------

@settings(max_examples=200)
@given(oracle_twap=oracle_twaps, threshold=thresholds, slope=slopes, where=st.floats(-1, 1))
def test_inside_the_dead_zone_longs_pay_the_floor_of_10_95_percent_a_year(
    oracle_twap: int, threshold: int, slope: int, where: float,
) -> None:
    spread = int(dead_zone(oracle_twap, threshold) * where)
    rate = funding_rate(inputs(oracle_twap=oracle_twap, mark_twap=oracle_twap + spread,
                               funding_clamp_threshold=threshold, funding_ramp_slope=slope))
    assert rate == funding_rate_offset(oracle_twap) * 1000 // 24
    # 1/3333 of the price a day, over 24 hourly periods: 365/3333 = 10.951 % a year, less the
    # program's truncations (under 0.04 % of it above $10).
    assert Decimal("10.946") <= apr(rate, oracle_twap) <= Decimal("10.9511")


@settings(max_examples=200)
@given(oracle_twap=oracle_twaps, threshold=thresholds, slope=slopes,
       direction=st.sampled_from([-1, 1]))
def test_leaving_the_dead_zone_moves_the_premium_by_at_most_one_ramped_tick(
    oracle_twap: int, threshold: int, slope: int, direction: int,
) -> None:
    zone = dead_zone(oracle_twap, threshold)
    offset = funding_rate_offset(oracle_twap)
    just_past = premium_with_offset(direction * (zone + 1), zone, slope, offset)
    assert abs(just_past - offset) <= slope // 1_000_000 + 1


@settings(max_examples=200)
@given(oracle_twap=oracle_twaps, threshold=thresholds, slope=slopes,
       spreads=st.lists(st.integers(-10**9, 10**9), min_size=2, max_size=2))
def test_the_premium_never_falls_as_the_mark_rises_above_the_oracle(
    oracle_twap: int, threshold: int, slope: int, spreads: list[int],
) -> None:
    low, high = sorted(spreads)
    zone, offset = dead_zone(oracle_twap, threshold), funding_rate_offset(oracle_twap)
    assert premium_with_offset(low, zone, slope, offset) <= premium_with_offset(
        high, zone, slope, offset)


@settings(max_examples=200)
@given(oracle_twap=oracle_twaps, mark_twap=st.integers(1, 400_000 * ONE_DOLLAR),
       threshold=thresholds, slope=slopes, tier=st.sampled_from(TIERS))
def test_the_rate_never_passes_the_contract_tier_s_divergence_clamp(
    oracle_twap: int, mark_twap: int, threshold: int, slope: int, tier: str,
) -> None:
    rate = funding_rate(inputs(oracle_twap=oracle_twap, mark_twap=mark_twap, contract_tier=tier,
                               funding_clamp_threshold=threshold, funding_ramp_slope=slope))
    assert abs(rate) <= max_price_divergence(tier, oracle_twap) * 1000 // 24


# ---- the AMM's payout cap ----------------------------------------------------------------

@settings(max_examples=300)
@given(rate=st.integers(-5 * 10**7, 5 * 10**7).filter(bool),
       longs=st.integers(0, 10**16), shorts=st.integers(0, 10**16),
       fees=st.integers(-10**12, 10**12))
def test_the_amm_never_pays_more_than_a_third_of_its_fees_and_the_payers_pay_the_full_rate(
    rate: int, longs: int, shorts: int, fees: int,
) -> None:
    market = inputs(base_asset_amount_long=longs, base_asset_amount_short=-shorts,
                    net_counterparty_position=longs - shorts, total_fee_minus_distributions=fees)
    rates = long_short_rates(market, rate)
    assert rates.amm_pnl >= amm_payout_limit(fees) or rates.amm_pnl >= 0
    payers, receivers = (rates.long, rates.short) if rate > 0 else (rates.short, rates.long)
    assert payers == rate
    # the receiving side gets the rate or less, never more and never the other way round
    assert 0 <= receivers * (1 if rate > 0 else -1) <= abs(rate)


def test_known_answer_a_capped_payout_to_longs() -> None:
    # Users net long 1M base, longs 1.5M, shorts 0.5M; the rate -1e6 (longs receive $0.001 a
    # base); the AMM holds $300 of fees. Uncapped, the AMM pays 1e6 x 1e15 / 1e6 / 1e3 / 1e3 =
    # $1000 (1e9); its limit is -$300 / 3 = -1e8. Shorts pay 1e6 x 5e14 / 1e9 / 1e3 = 5e8; so
    # longs get (-1e8 - 5e8 + 1) x 1e12 / 1.5e15 = -399999.999..., truncated to -399999.
    market = inputs(net_counterparty_position=1_000_000 * BASE,
                    base_asset_amount_long=1_500_000 * BASE,
                    base_asset_amount_short=-500_000 * BASE,
                    total_fee_minus_distributions=300 * ONE_DOLLAR)
    rates = long_short_rates(market, -1_000_000)
    assert (rates.long, rates.short, rates.amm_pnl) == (-399_999, -1_000_000, -100_000_000)


def test_known_answer_the_amm_earning_the_imbalance_pays_both_sides_the_full_rate() -> None:
    market = inputs(net_counterparty_position=1_000_000 * BASE,
                    base_asset_amount_long=1_500_000 * BASE,
                    base_asset_amount_short=-500_000 * BASE)
    rates = long_short_rates(market, 1_000_000)   # longs (the larger side) pay: the AMM earns
    assert (rates.long, rates.short, rates.amm_pnl) == (1_000_000, 1_000_000, 1_000_000_000)


# ---- known answers of the premium --------------------------------------------------------

def test_known_answer_a_premium_past_the_dead_zone_is_shrunk_and_ramped() -> None:
    # $100.10 mark over a $100 oracle: spread 100_000; zone 5 bps = 50_000; offset
    # 100_000_000 / 3333 = 30_003; ramp 1.5x of the 50_000 past the zone = 75_000; premium
    # 105_003, under B's clamp (100e6 / 33 = 3_030_303); rate 105_003 x 1000 / 24 = 4_375_125.
    rate = funding_rate(inputs(mark_twap=100_100_000, funding_ramp_slope=1_500_000))
    assert rate == 4_375_125
    assert per_hour(rate, 100 * ONE_DOLLAR, HOURLY) == Decimal("0.00004375125")


def test_known_answer_a_negative_premium_truncates_toward_zero_as_rust_does() -> None:
    # spread -100_000; shrunk -50_000; x 1.333333 = -66_666.65, truncated to -66_666 (flooring
    # would give -66_667); premium -36_663; rate -36_663_000 / 24 = -1_527_625.
    rate = funding_rate(inputs(mark_twap=99_900_000, funding_ramp_slope=1_333_333))
    assert rate == -1_527_625


def test_known_answer_the_clamp_of_a_speculative_market() -> None:
    # $150 mark over $100: far past the clamp of 1/10 = 10_000_000; 1e10 / 24 = 416_666_666.
    rate = funding_rate(inputs(mark_twap=150 * ONE_DOLLAR, contract_tier="Speculative"))
    assert rate == 416_666_666


# ---- when the next update runs -----------------------------------------------------------

@settings(max_examples=200)
@given(hour=st.integers(1_700_000_000 // 3600, 1_900_000_000 // 3600),
       late=st.integers(0, 3599), since=st.integers(0, 3 * 3600))
def test_an_update_made_early_in_an_hour_is_followed_on_the_next_hour(
    hour: int, late: int, since: int,
) -> None:
    last = hour * 3600 + late
    wait = seconds_until_update(last + since, last, 3600)
    next_at = last + since + wait
    # on_the_hour_update: within the first third of the hour, the next hour; later, the one
    # after; never before.
    expected = (hour + (1 if late <= 1200 else 2)) * 3600 if late else (hour + 1) * 3600
    assert next_at == max(expected, last + since)


# ---- the estimate on the recorded markets (re-encoded into Velocity's layout) -----------------

def reencoded(symbol: str) -> dict[str, Any]:
    decoder = velocity_decoder()
    markets = [decoder.decode_as("PerpMarket", buffer)
               for buffer, _ in reencoded_perp_markets(DEFAULT_DATA_DIR)]
    return max((m for m in markets if bytes(m["name"]).strip(b"\x00 ").decode() == symbol),
               key=lambda m: m["amm"]["last_update_slot"])


def reserve_price(market: dict[str, Any]) -> int:
    amm = market["amm"]
    return calculate_price(amm["base_asset_reserve"], amm["quote_asset_reserve"],
                           amm["peg_multiplier"])


def test_known_answer_sol_perp_half_an_hour_after_its_last_funding() -> None:
    sol = reencoded("SOL-PERP")
    stats = sol["market_stats"]
    oracle = stats["historical_oracle_data"]
    assert (stats["last_mark_price_twap"], oracle["last_oracle_price_twap"]) == (
        85_001_305, 85_043_706)
    assert (stats["last_mark_price_twap_ts"], oracle["last_oracle_price_twap_ts"]) == (
        1_773_072_629, 1_773_072_629)
    now = sol["last_funding_rate_ts"] + 1800          # 1_773_073_808: 1_179 s after the TWAPs
    estimate = next_funding(sol, oracle["last_oracle_price"], reserve_price(sol), now)
    # oracle TWAP: (85_043_706 x 2_421 + 85_016_475 x 1_179) / 3_600 = 85_034_787
    # mark TWAP: (85_001_305 x 3_600 + 85_016_474 x 1_179) / 4_779 = 85_005_047
    assert (estimate.oracle_twap, estimate.mark_twap) == (85_034_787, 85_005_047)
    # Re-encoded Drift accounts have no dead zone (0 bps) and a zero ramp slope, which the
    # program reads as "every premium flattened to the offset": 85_034_787 / 3333 = 25_512;
    # x 1000 / 24 = 1_063_000. Users are net short and the rate positive, so the AMM earns:
    # no cap, both sides the full rate.
    assert estimate.funding_rate == 1_063_000
    fraction = Decimal(1_063_000) / 10**9 / (Decimal(85_034_787) / 10**6)
    assert estimate.rate_long_1h == estimate.rate_short_1h == fraction
    assert Decimal("10.950") < estimate.apr_long < Decimal("10.951")   # type: ignore[operator]
    # the last update at 16:00:08, early in its hour: the next at 17:00
    assert estimate.next_update_at == datetime(2026, 3, 9, 17, tzinfo=UTC)


def test_known_answer_sol_perp_with_launch_dead_zone_and_ramp() -> None:
    # With the launch defaults (5 bps, 1.0x) the projected spread 85_005_047 - 85_034_787 =
    # -29_740 is inside the zone 85_034_787 x 5 / 10_000 = 42_517: the same floor.
    sol = reencoded("SOL-PERP")
    sol["funding_clamp_threshold"], sol["funding_ramp_slope"] = 5, 1_000_000
    oracle = sol["market_stats"]["historical_oracle_data"]
    now = sol["last_funding_rate_ts"] + 1800
    assert next_funding(sol, oracle["last_oracle_price"], reserve_price(sol),
                        now).funding_rate == 1_063_000
    # With no dead zone the premium counts: -29_740 + 25_512 = -4_228; -4_228_000 / 24 =
    # -176_166 (toward zero); users net short, shorts now pay, the AMM (long) earns: uncapped.
    sol["funding_clamp_threshold"] = 0
    estimate = next_funding(sol, oracle["last_oracle_price"], reserve_price(sol), now)
    assert estimate.funding_rate == -176_166
    assert estimate.rate_long_1h == Decimal(-176_166) / 10**9 / (Decimal(85_034_787) / 10**6)


def test_paused_funding_gives_no_rate_but_the_reason() -> None:
    sol = reencoded("SOL-PERP")
    oracle = sol["market_stats"]["historical_oracle_data"]
    now = sol["last_funding_rate_ts"] + 1800
    market_paused = dict(sol, paused_operations=0b1)   # PerpOperation::UpdateFunding
    by_market = next_funding(market_paused, oracle["last_oracle_price"], reserve_price(sol), now)
    by_program = next_funding(sol, oracle["last_oracle_price"], reserve_price(sol), now,
                              exchange_status=0b0010_0000)   # ExchangeStatus::FundingPaused
    assert by_market.rate_long_1h is None and by_market.funding_rate is None
    assert "paused_operations UpdateFunding" in by_market.paused_reason
    assert by_program.rate_long_1h is None and by_program.apr_long is None
    assert "FundingPaused" in by_program.paused_reason
