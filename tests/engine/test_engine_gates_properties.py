"""Safety gates as pure functions: properties 4, 9, 12, 13, 14, 25-30."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.errors import ErrorCode
from services.engine import gates
from services.engine.outcome import Denial

money = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(1_000_000), places=6)
any_amount = st.decimals(min_value=Decimal(-1000), max_value=Decimal(1_000_000), places=6)
price = st.decimals(min_value=Decimal(50), max_value=Decimal(500), places=4)
size = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100), places=9)
rate = st.decimals(min_value=Decimal("-0.0001"), max_value=Decimal("0.0001"), places=9)
latency = st.floats(min_value=0, max_value=5000, allow_nan=False)


@settings(max_examples=200)
@given(amount=any_amount, wallet=st.decimals(min_value=Decimal(0), max_value=Decimal(10**6),
                                             places=6))
def test_property_9_deposit_accepted_iff_positive_and_within_the_wallet(
    amount: Decimal, wallet: Decimal
) -> None:
    decision = gates.check_deposit(amount, wallet)
    assert decision.allowed == (Decimal(0) < amount <= wallet)
    if not decision.allowed:
        assert decision.code in (ErrorCode.INVALID_AMOUNT, ErrorCode.INSUFFICIENT_BALANCE)
        assert decision.reason


@settings(max_examples=200)
@given(collateral=money, margin=st.decimals(min_value=Decimal(0), max_value=Decimal(10**5),
                                            places=6), amount=money)
def test_property_12_withdrawal_leaving_health_below_80_is_rejected(
    collateral: Decimal, margin: Decimal, amount: Decimal
) -> None:
    decision = gates.check_withdrawal(amount, collateral, margin)
    after = gates.health_ratio(collateral - amount, margin)
    if amount > collateral:
        assert decision.code == ErrorCode.INSUFFICIENT_COLLATERAL
    elif after < 80:
        assert not decision.allowed and decision.code == ErrorCode.HEALTH_LIMIT
    else:
        assert decision.allowed


@settings(max_examples=200)
@given(collateral=money, amount=money,
       notional=st.decimals(min_value=Decimal(0), max_value=Decimal(10**7), places=2),
       limit=st.sampled_from([Decimal(2), Decimal(5), Decimal(10)]))
def test_property_12_with_4_a_withdrawal_leaving_leverage_above_the_limit_is_rejected(
    collateral: Decimal, amount: Decimal, notional: Decimal, limit: Decimal
) -> None:
    # No maintenance margin: health stays 100 %, so only the leverage limit can refuse.
    decision = gates.check_withdrawal(amount, collateral, Decimal(0),
                                      position_notional=notional, max_leverage=limit)
    if amount > collateral:
        assert decision.code == ErrorCode.INSUFFICIENT_COLLATERAL
    elif gates.leverage([notional], collateral - amount) > limit:
        assert not decision.allowed and decision.code == ErrorCode.LEVERAGE_LIMIT
        assert f"{limit}x" in decision.reason
    else:
        assert decision.allowed


def test_property_12_with_4_known_answer_withdrawal_leverage() -> None:
    # 4000 of positions on 1000 of collateral is 4x; withdrawing 200 leaves exactly 5x.
    kept = {"position_notional": Decimal(4000), "max_leverage": Decimal(5)}
    assert gates.check_withdrawal(Decimal(200), Decimal(1000), Decimal(0), **kept).allowed
    refused = gates.check_withdrawal(Decimal("200.01"), Decimal(1000), Decimal(0), **kept)
    assert refused.code == ErrorCode.LEVERAGE_LIMIT


def test_property_12_known_answer_drift_health_formula() -> None:
    # C = 1000, M = 100: health 90 %. Withdrawing 500 leaves C = 500: 100 x (1 - 100/500) = 80.
    assert gates.health_ratio(Decimal(1000), Decimal(100)) == Decimal(90)
    assert gates.health_after_withdrawal(Decimal(1000), Decimal(100), Decimal(500)) == 80
    assert gates.check_withdrawal(Decimal(500), Decimal(1000), Decimal(100)).allowed
    assert not gates.check_withdrawal(Decimal("500.01"), Decimal(1000), Decimal(100)).allowed
    assert gates.health_ratio(Decimal(0), Decimal(0)) == 100  # nothing owed, nothing at risk
    assert gates.health_ratio(Decimal(0), Decimal(1)) == 0
    assert gates.health_ratio(Decimal(10), Decimal(0)) == 100


markets = st.sampled_from(["SOL-PERP", "BTC-PERP", "ETH-PERP", "DOGE-PERP", "PAUSED-PERP", ""])


@settings(max_examples=200)
@given(market=markets, tradable=st.sets(st.sampled_from(["SOL-PERP", "BTC-PERP", "ETH-PERP"])))
def test_property_13_market_accepted_iff_in_the_tradable_set(
    market: str, tradable: set[str]
) -> None:
    known = {*tradable, "PAUSED-PERP"}
    decision = gates.check_market(market, tradable, known)
    assert decision.allowed == (market in tradable)
    if not decision.allowed:
        expected = ErrorCode.MARKET_NOT_TRADABLE if market in known else ErrorCode.INVALID_MARKET
        assert decision.code == expected and decision.reason


@settings(max_examples=200)
@given(held=st.decimals(min_value=Decimal(-50), max_value=Decimal(50), places=3),
       change=st.decimals(min_value=Decimal(-50), max_value=Decimal(50), places=3),
       collateral=st.decimals(min_value=Decimal(10), max_value=Decimal(10_000), places=2),
       p=price, limit=st.sampled_from([Decimal(5), Decimal(10)]))
def test_property_4_no_position_increase_beyond_the_leverage_limit(
    held: Decimal, change: Decimal, collateral: Decimal, p: Decimal, limit: Decimal
) -> None:
    decision = gates.check_leverage(
        positions={"SOL-PERP": held}, prices={"SOL-PERP": p}, collateral=collateral,
        market="SOL-PERP", signed_size_change=change, limit=limit)
    before = abs(held) * p / collateral
    after = abs(held + change) * p / collateral
    if after > limit and after > before:
        assert not decision.allowed and decision.code == ErrorCode.LEVERAGE_LIMIT
    else:
        assert decision.allowed  # within the limit, or reducing an over-levered position


@settings(max_examples=200)
@given(p=price, slip=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.1"),
                                 places=4))
def test_property_14_price_limit_is_p_times_one_plus_s_for_buys_one_minus_s_for_sells(
    p: Decimal, slip: Decimal
) -> None:
    assert gates.price_limit(p, slip, buying=True) == p * (1 + slip)
    assert gates.price_limit(p, slip, buying=False) == p * (1 - slip)


@settings(max_examples=200)
@given(amount=money, p=price, tip=st.integers(0, 10**7), base=st.integers(0, 10**6))
def test_property_25_cost_is_tip_plus_fee_plus_slippage_plus_base_fee(
    amount: Decimal, p: Decimal, tip: int, base: int
) -> None:
    cost = gates.estimate_cost(amount, p, tip, base)
    lamports = Decimal(10**9)
    expected = (Decimal(tip) / lamports * p + amount * Decimal("0.001")
                + amount * Decimal("0.0002") + Decimal(base) / lamports * p)
    assert cost.total == expected


def test_property_25_known_answer_default_tip_and_base_fee_on_a_1000_usd_swap() -> None:
    cost = gates.estimate_cost(Decimal(1000), Decimal(150), 10_000, 5_000)
    # 0.00001 SOL x 150 + 1 + 0.2 + 0.000005 SOL x 150
    assert cost.total == Decimal("1.20225")


@settings(max_examples=200)
@given(s=size, r=rate, p=price, horizon=st.sampled_from([Decimal(1), Decimal(24),
                                                        Decimal(720)]))
def test_property_26_revenue_is_size_rate_price_over_the_horizon_signed_by_side(
    s: Decimal, r: Decimal, p: Decimal, horizon: Decimal
) -> None:
    assert gates.expected_revenue(s, r, p, horizon, short=True) == s * r * p * horizon
    assert gates.expected_revenue(s, r, p, horizon, short=False) == -(s * r * p * horizon)
    assert gates.expected_revenue(s, r, p, Decimal(1), short=True) == s * r * p


@settings(max_examples=200)
@given(e=st.decimals(min_value=Decimal(-100), max_value=Decimal(100), places=6),
       c=st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=6),
       multiple=st.decimals(min_value=Decimal(1), max_value=Decimal(5), places=2))
def test_property_27_rejected_when_revenue_is_below_cost_and_guarded_by_the_fee_multiple(
    e: Decimal, c: Decimal, multiple: Decimal
) -> None:
    decision = gates.check_profitability(e, c, multiple)
    if e < c:
        assert not decision.allowed and decision.gate == "profitability"
        assert decision.code == ErrorCode.UNPROFITABLE
    assert decision.allowed == (e >= multiple * c)
    if not decision.allowed:  # property 50: the figures travel with the refusal
        assert set(decision.details) == {"expected_revenue", "estimated_costs", "net_profit"}


@settings(max_examples=200)
@given(r=rate)
def test_property_28_profitability_uses_half_the_quoted_rate(r: Decimal) -> None:
    assert gates.conservative_rate(r) == Decimal("0.5") * r


@settings(max_examples=200)
@given(venue=latency, measured=latency, limit=st.floats(min_value=1, max_value=2000))
def test_property_29_latency_above_the_limit_blocks_every_trade(
    venue: float, measured: float, limit: float
) -> None:
    decision = gates.check_latency(venue, measured, limit)
    assert decision.allowed == (max(venue, measured) <= limit)
    if not decision.allowed:
        assert decision.code == ErrorCode.LATENCY_TOO_HIGH


@settings(max_examples=200)
@given(balance=st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=9),
       reserved=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.02"), places=3))
def test_property_30_wallet_sol_below_the_reserve_blocks_trades_needing_gas(
    balance: Decimal, reserved: Decimal
) -> None:
    decision = gates.check_gas(balance, reserved)
    assert decision.allowed == (balance >= reserved)
    if not decision.allowed:
        assert decision.code == ErrorCode.INSUFFICIENT_GAS and decision.reason


def test_a_denied_gate_raises_with_its_code_message_and_details() -> None:
    decision = gates.check_gas(Decimal("0.001"), Decimal("0.017"))
    try:
        decision.raise_if_denied()
    except gates.GateDenied as denied:
        denial = Denial.of(denied)
        assert denial.code == "INSUFFICIENT_GAS" and denial.message
        assert denial.details["gate"] == "balance"
    else:
        raise AssertionError("expected a denial")


def test_a_trade_with_no_collateral_says_deposit_first_not_infinite_leverage() -> None:
    decision = gates.check_leverage(
        positions={}, prices={"BTC-PERP": Decimal(90_000)}, collateral=Decimal(0),
        market="BTC-PERP", signed_size_change=Decimal("-0.01"), limit=Decimal(10))
    assert not decision.allowed and decision.code == ErrorCode.LEVERAGE_LIMIT
    assert "no collateral" in decision.reason and "deposit" in decision.reason
    assert "Infinity" not in decision.reason
