"""Properties 18-23: delta drift, the signal, cooldown, correction size, minimum size, direction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.common.venue import OrderKind, Side
from services.engine import delta

T0 = datetime(2025, 3, 1, tzinfo=UTC)
sol = st.decimals(min_value=Decimal(0), max_value=Decimal(10_000), places=9)
short_perp = st.decimals(min_value=Decimal(-10_000), max_value=Decimal(0), places=9)
any_perp = st.decimals(min_value=Decimal(-10_000), max_value=Decimal(10_000), places=9)
reserve = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.02"), places=3)
tolerance = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(50), places=2)
drift_values = st.decimals(min_value=Decimal(-500), max_value=Decimal(500), places=4)


def plan(**overrides: object) -> delta.RebalancePlan:
    values: dict[str, object] = {
        "spot_sol": Decimal(11), "perp_sol": Decimal("-10.983"), "reserved_sol": Decimal("0.017"),
        "tolerance_pct": Decimal(1), "min_trade_size_sol": Decimal("0.005"), "now": T0,
        "last_rebalance": None, "cooldown_sec": 1800,
    }
    values.update(overrides)
    return delta.plan_rebalance(**values)  # type: ignore[arg-type]


@settings(max_examples=200)
@given(spot=sol, perp=short_perp, reserved=reserve)
def test_property_18_drift_is_net_delta_over_hedgeable_spot_times_100(
    spot: Decimal, perp: Decimal, reserved: Decimal
) -> None:
    drift = delta.drift_pct(spot, reserved, perp)
    if spot - reserved <= 0:
        assert drift is None  # no hedgeable spot: undefined, never a division by zero
    else:
        assert drift == (spot - reserved + perp) / (spot - reserved) * 100
        assert delta.net_delta(spot, reserved, perp) == spot - reserved + perp


def test_property_18_known_answer_half_a_sol_of_drift_on_eleven_sol() -> None:
    drift = delta.drift_pct(Decimal("11.5"), Decimal("0.017"), Decimal("-10.983"))
    assert drift is not None
    assert round(drift, 6) == round(Decimal("0.5") / Decimal("11.483") * 100, 6)


@settings(max_examples=200)
@given(drift=drift_values, tol=tolerance)
def test_property_19_signal_iff_absolute_drift_exceeds_tolerance(
    drift: Decimal, tol: Decimal
) -> None:
    assert delta.rebalance_signal(drift, tol) == (abs(drift) > tol)
    assert delta.rebalance_signal(None, tol) is False


@settings(max_examples=200)
@given(elapsed=st.floats(min_value=0, max_value=10_000, allow_nan=False),
       cooldown=st.integers(min_value=1, max_value=7200))
def test_property_20_a_signal_inside_the_cooldown_is_skipped(
    elapsed: float, cooldown: int
) -> None:
    last = T0
    now = last + timedelta(seconds=elapsed)
    # 2 SOL of unhedged spot on a 10 SOL hedge: far outside any tolerance here.
    result = plan(spot_sol=Decimal(12), perp_sol=Decimal(-10), last_rebalance=last,
                  cooldown_sec=cooldown, now=now)
    assert result.signal
    inside = now < last + timedelta(seconds=cooldown)
    assert delta.in_cooldown(now, last, cooldown) == inside
    assert (result.skip_reason == "cooldown") == inside
    assert result.actionable == (not inside)


@settings(max_examples=200)
@given(spot=sol, perp=any_perp, reserved=reserve)
def test_property_21_correction_size_is_the_absolute_net_delta(
    spot: Decimal, perp: Decimal, reserved: Decimal
) -> None:
    net = delta.net_delta(spot, reserved, perp)
    assert delta.correction_size(net) == abs(net)
    assert plan(spot_sol=spot, perp_sol=perp, reserved_sol=reserved).correction_size == abs(net)


@settings(max_examples=200)
@given(spot=st.decimals(min_value=Decimal(1), max_value=Decimal(1000), places=9),
       offset=st.decimals(min_value=Decimal("-0.01"), max_value=Decimal("0.01"), places=9),
       minimum=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("0.01"), places=4))
def test_property_22_corrections_below_the_minimum_size_are_skipped(
    spot: Decimal, offset: Decimal, minimum: Decimal
) -> None:
    reserved = Decimal("0.017")
    perp = -(spot - reserved) + offset  # net delta == offset
    assume(perp < 0)
    result = plan(spot_sol=spot, perp_sol=perp, reserved_sol=reserved,
                  tolerance_pct=Decimal("0.0001"), min_trade_size_sol=minimum)
    assume(result.signal)
    assert (result.skip_reason == "below_min_size") == (abs(offset) < minimum)
    if abs(offset) < minimum:
        assert not result.actionable


@settings(max_examples=200)
@given(spot=st.decimals(min_value=Decimal(1), max_value=Decimal(1000), places=9),
       perp=st.decimals(min_value=Decimal(-2000), max_value=Decimal("-0.001"), places=9))
def test_property_23_positive_delta_expands_the_short_negative_reduces_it(
    spot: Decimal, perp: Decimal
) -> None:
    net = delta.net_delta(spot, Decimal("0.017"), perp)
    expected = "expand_short" if net > 0 else "reduce_short" if net < 0 else "none"
    assert delta.rebalance_direction(net) == expected
    result = plan(spot_sol=spot, perp_sol=perp, tolerance_pct=Decimal("0.0001"),
                  min_trade_size_sol=Decimal("1e-9"))
    if result.actionable:
        assert result.action == expected


def test_an_unhedged_wallet_is_never_rebalanced_its_sol_is_gas_not_a_position() -> None:
    result = plan(spot_sol=Decimal(1), perp_sol=Decimal(0))
    assert result.signal  # 100 % drift on paper...
    assert result.skip_reason == "no_hedge" and result.action == "none"


def test_a_hedge_without_hedgeable_spot_is_left_to_a_human() -> None:
    result = plan(spot_sol=Decimal("0.01"), perp_sol=Decimal(-5))
    assert result.drift_pct is None
    assert result.skip_reason == "no_hedgeable_spot" and not result.actionable


def test_within_tolerance_is_skipped_with_its_reason() -> None:
    result = plan(spot_sol=Decimal("11.05"), perp_sol=Decimal("-10.983"))
    assert not result.signal and result.skip_reason == "within_tolerance"


@settings(max_examples=200)
@given(
    spot=st.decimals(min_value=0, max_value=1000, places=3),
    perp=st.decimals(min_value=-1000, max_value=0, places=3),
    short=st.decimals(min_value="0.001", max_value=1000, places=3),
)
def test_property_18_the_spot_leg_of_a_new_short_restores_neutrality(
    spot: Decimal, perp: Decimal, short: Decimal
) -> None:
    reserved = Decimal("0.017")
    buy = delta.spot_to_buy(spot, reserved, perp, short)
    assert Decimal(0) <= buy <= short
    after = delta.net_delta(spot + buy, reserved, perp - short)
    if buy < short:
        # Not capped: exactly neutral, or already long enough that nothing was needed.
        assert after == 0 or (buy == 0 and after >= 0)
    else:
        # Capped at the short's own size: never buys more than the trade hedges.
        assert after <= 0


@given(spot=sol, perp=any_perp, reserved=reserve)
def test_property_18_the_spot_leg_sold_at_an_exit_is_what_the_short_hedged(
    spot: Decimal, perp: Decimal, reserved: Decimal
) -> None:
    sell = delta.spot_to_sell(spot, reserved, perp)
    # Never the gas reserve, never more than the short, nothing without a short.
    assert Decimal(0) <= sell <= max(spot - reserved, Decimal(0))
    assert sell <= max(-perp, Decimal(0))
    # All of it, up to either bound: after the sale and the close, no hedged spot is left over.
    assert sell == min(max(-perp, Decimal(0)), max(spot - reserved, Decimal(0)))
    left = max(spot - reserved, Decimal(0)) - sell   # hedgeable spot still held afterwards
    assert left >= 0 and (left == 0 or sell == max(-perp, Decimal(0)))


@settings(max_examples=200)
@given(hedgeable=st.decimals(min_value=Decimal(1), max_value=Decimal(10_000), places=3),
       gap_pct=st.decimals(min_value=Decimal(5), max_value=Decimal(90), places=2),
       expand=st.booleans())
def test_a_correction_expands_the_short_by_selling_or_reduces_it_reduce_only(
    hedgeable: Decimal, gap_pct: Decimal, expand: bool,
) -> None:
    # The one request both the engine's rebalancer and the backtester send for a plan: a short
    # smaller than the spot it hedges is expanded, a larger one reduced.
    short = hedgeable * (1 - gap_pct / 100 if expand else 1 + gap_pct / 100)
    planned = plan(spot_sol=hedgeable + Decimal("0.017"), perp_sol=-short)
    assert planned.action == (delta.EXPAND_SHORT if expand else delta.REDUCE_SHORT)
    request = planned.request("r-1", "SOL-PERP")
    assert (request.kind, request.action, request.market, request.size, request.source) == (
        OrderKind.PERP_REBALANCE, "REBALANCE", "SOL-PERP", planned.correction_size, "rebalance")
    assert (request.side, request.reduce_only) == (
        (Side.SHORT, False) if expand else (Side.LONG, True))
