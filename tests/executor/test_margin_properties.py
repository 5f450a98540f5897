"""Properties 2, 3 and 7 on the venue arithmetic, and known answers for it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.venue import Side
from services.executor.margin import (
    Exposure,
    health_ratio,
    leverage,
    liquidation_price,
    slippage_fraction,
    summarize,
    unrealized_pnl,
)
from services.executor.paper_fills import simulate_fill

money = st.decimals(min_value="-100000", max_value="1000000", places=6)
positive_money = st.decimals(min_value="0.000001", max_value="1000000", places=6)
sizes = st.decimals(min_value="0.001", max_value="100", places=9)
prices = st.decimals(min_value="50", max_value="500", places=6)


@settings(max_examples=200)
@given(collateral=money, maintenance=st.decimals(min_value="0", max_value="1000000", places=6))
def test_property_2_health_is_drifts_formula_clamped_to_0_100(
    collateral: Decimal, maintenance: Decimal
) -> None:
    health = health_ratio(collateral, maintenance)
    assert Decimal(0) <= health <= Decimal(100)
    if maintenance == 0 and collateral >= 0:
        assert health == 100  # nothing can be liquidated
    elif collateral <= 0:
        assert health == 0
    else:
        expected = 100 * (1 - maintenance / collateral)
        assert health == min(Decimal(100), max(Decimal(0), expected))


@settings(max_examples=100)
@given(collateral=positive_money, extra=positive_money, maintenance=positive_money)
def test_property_2_more_collateral_never_lowers_health(
    collateral: Decimal, extra: Decimal, maintenance: Decimal
) -> None:
    assert health_ratio(collateral + extra, maintenance) >= health_ratio(collateral, maintenance)


def test_property_2_known_answers() -> None:
    assert health_ratio(Decimal(1000), Decimal(0)) == 100
    assert health_ratio(Decimal(1000), Decimal(250)) == 75
    assert health_ratio(Decimal(1000), Decimal(1000)) == 0  # collateral = margin: liquidatable
    assert health_ratio(Decimal(0), Decimal(0)) == 100  # an empty account is not at risk
    assert health_ratio(Decimal(-5), Decimal(0)) == 0
    assert health_ratio(Decimal(-5), Decimal(10)) == 0


@settings(max_examples=200)
@given(size_a=sizes, size_b=sizes, price=prices)
def test_property_3_slippage_between_0_1_and_0_3_pct_and_grows_with_size(
    size_a: Decimal, size_b: Decimal, price: Decimal
) -> None:
    small, large = sorted((size_a, size_b))
    slip_small = slippage_fraction(small * price)
    slip_large = slippage_fraction(large * price)
    assert Decimal("0.001") <= slip_small <= Decimal("0.003")
    assert Decimal("0.001") <= slip_large <= Decimal("0.003")
    if large > small:
        assert slip_large > slip_small
    else:
        assert slip_large == slip_small


@settings(max_examples=100)
@given(size=sizes, price=prices, side=st.sampled_from(Side))
def test_property_3_fills_move_against_the_taker_by_the_modeled_slippage(
    size: Decimal, price: Decimal, side: Side
) -> None:
    fill = simulate_fill(side, size, price)
    applied = (fill.price - price) / price * side.sign  # positive: worse for the taker
    grid = Decimal("0.000001") / price  # the fill rounds to Drift's 1e-6 price grid
    assert fill.slippage <= applied <= fill.slippage + grid
    assert Decimal("0.001") <= applied <= Decimal("0.003") + grid
    assert fill.fee == (fill.notional * Decimal("0.0002")).quantize(
        Decimal("0.000001"), rounding="ROUND_CEILING"
    )


def test_property_3_known_answers() -> None:
    assert slippage_fraction(Decimal(0)) == Decimal("0.001")
    assert slippage_fraction(Decimal(100_000)) == Decimal("0.001") + Decimal("0.002") * (
        1 - Decimal(-1).exp()
    )
    assert slippage_fraction(Decimal("1e15")) == Decimal("0.003")
    assert slippage_fraction(Decimal(1000), scale=Decimal(1000)) == Decimal(
        "0.002264241117657115356808952460"
    )


@settings(max_examples=200)
@given(entry=prices, mark=prices, size=sizes, side=st.sampled_from(Side))
def test_property_7_unrealized_pnl_is_price_move_times_signed_size(
    entry: Decimal, mark: Decimal, size: Decimal, side: Side
) -> None:
    pnl = unrealized_pnl(size * side.sign, entry, mark)
    assert pnl == (mark - entry) * size * (1 if side is Side.LONG else -1)
    if mark > entry:
        assert (pnl > 0) == (side is Side.LONG)


def test_leverage_is_notional_over_collateral_and_zero_without_positions() -> None:
    assert leverage(Decimal(0), Decimal(1000)) == 0
    assert leverage(Decimal(5000), Decimal(1000)) == 5
    assert leverage(Decimal(5000), Decimal(0)).is_infinite()


def test_liquidation_price_of_a_short_known_answer() -> None:
    short = Exposure("SOL-PERP", Decimal(-10), Decimal("84.930019"), Decimal("85.016475"),
                     Decimal("0.1"), Decimal("0.05"))
    summary = summarize(Decimal("999.830139"), Decimal(0), [short])
    # 999.830139 + (84.930019 - p) * 10 = 0.05 * 10 * p  =>  p = 1849.130329 / 10.5
    assert liquidation_price(short, summary) == Decimal("1849.130329") / Decimal("10.5")


def test_a_fully_collateralized_long_cannot_be_liquidated() -> None:
    long = Exposure("SOL-PERP", Decimal(1), Decimal(100), Decimal(100),
                    Decimal("0.1"), Decimal("0.05"))
    summary = summarize(Decimal(1000), Decimal(0), [long])
    assert liquidation_price(long, summary) is None


@settings(max_examples=100)
@given(size=sizes, price=prices, side=st.sampled_from(Side),
       deposit=st.decimals(min_value="100", max_value="100000", places=2))
def test_at_the_liquidation_price_collateral_equals_maintenance_margin(
    size: Decimal, price: Decimal, side: Side, deposit: Decimal
) -> None:
    exposure = Exposure("SOL-PERP", size * side.sign, price, price, Decimal("0.1"),
                        Decimal("0.05"))
    liq = liquidation_price(exposure, summarize(deposit, Decimal(0), [exposure]))
    if liq is None:
        assert side is Side.LONG
        return
    moved = Exposure("SOL-PERP", size * side.sign, price, liq, Decimal("0.1"), Decimal("0.05"))
    at_liq = summarize(deposit, Decimal(0), [moved])
    assert abs(at_liq.collateral - at_liq.maintenance_margin) < Decimal("1e-15")
