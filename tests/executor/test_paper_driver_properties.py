"""Properties 1, 2, 4, 7, 9, 15 and 16 on the paper venue, each with at least 100 examples."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from hypothesis import event, given, settings
from hypothesis import strategies as st

from services.common.errors import ErrorCode
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.margin import health_ratio
from services.executor.paper_driver import PaperDriver
from services.executor.paper_fills import simulate_fill
from tests.kit.executor_fakes import START, FakeFeed, paper_driver

D = Decimal
T = TypeVar("T")

sides = st.sampled_from(Side)
sizes = st.decimals(min_value="0.001", max_value="100", places=3)
prices = st.decimals(min_value="50", max_value="500", places=4)
rates = st.decimals(min_value="-0.0001", max_value="0.0001", places=8)  # -0.01 % .. 0.01 %


def run(scenario: Callable[[FakeFeed, PaperDriver], Awaitable[T]], price: Decimal) -> T:
    """Runs one example on a fresh venue whose SOL-PERP oracle is `price`."""

    async def main() -> T:
        feed = FakeFeed()
        feed.prices["SOL-PERP"] = price
        driver = paper_driver(feed, start_usdc=D(100_000))
        await driver.start()
        return await scenario(feed, driver)

    return asyncio.run(main())


@settings(max_examples=100)
@given(side=sides, size=sizes, price=prices, hourly=st.lists(rates, min_size=1, max_size=8))
def test_property_1_funding_accrual_pays_size_rate_twap_with_sign_per_side(
    side: Side, size: Decimal, price: Decimal, hourly: list[Decimal]
) -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, D(50_000))
        await driver.open_position(OpenOrder("o", 0, "SOL-PERP", side, size))
        feed.set_rates("SOL-PERP", START, hourly)
        before = await driver.account_state(0)
        feed.advance_hours(len(hourly))
        after = await driver.account_state(0)

        # Positive rate: longs pay, shorts receive.
        expected = [size * rate * price * (-1 if side is Side.LONG else 1) for rate in hourly]
        assert [p.amount for p in after.funding_payments] == expected
        assert after.quote_balance - before.quote_balance == sum(expected, D(0))
        assert after.positions[0].settled_pnl - before.positions[0].settled_pnl == sum(
            expected, D(0)
        )
        for payment, rate in zip(after.funding_payments, hourly, strict=True):
            if rate != 0:
                receives = (rate > 0) == (side is Side.SHORT)
                assert (payment.amount > 0) == receives

    run(scenario, price)


@settings(max_examples=100)
@given(side=sides, size=sizes, price=prices, move=st.decimals("-0.3", "0.3", places=3),
       deposit=st.decimals(min_value="200", max_value="20000", places=2))
def test_property_2_account_health_follows_collateral_and_maintenance_margin(
    side: Side, size: Decimal, price: Decimal, move: Decimal, deposit: Decimal
) -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, deposit)
        await driver.open_position(OpenOrder("o", 0, "SOL-PERP", side, size))
        feed.prices["SOL-PERP"] = price * (1 + move)
        state = await driver.account_state(0)
        assert D(0) <= state.health_ratio <= D(100)
        assert state.health_ratio == health_ratio(state.collateral, state.margin_requirement)
        if state.positions:
            assert state.margin_requirement == state.positions[0].notional * D("0.05")

    run(scenario, price)


@settings(max_examples=100)
@given(side=sides, price=prices, target=st.decimals(min_value="0.5", max_value="20", places=2),
       deposit=st.decimals(min_value="100", max_value="20000", places=2))
def test_property_4_orders_beyond_10x_leverage_are_rejected_and_others_filled(
    side: Side, price: Decimal, target: Decimal, deposit: Decimal
) -> None:
    size = (target * deposit / price).quantize(D("0.001"))

    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, deposit)
        result = await driver.open_position(OpenOrder("o", 0, "SOL-PERP", side, size))
        fill = simulate_fill(side, size, price)
        collateral_after = deposit - fill.fee + (price - fill.price) * size * side.sign
        leverage_after = size * price / collateral_after
        event(f"leverage above 10x: {leverage_after > 10}")
        if leverage_after > 10:
            assert result.status is OrderStatus.REJECTED
            assert result.error_code == ErrorCode.LEVERAGE_LIMIT
            assert (await driver.account_state(0)).positions == []
        else:
            assert result.status is OrderStatus.FILLED, result.error_message
            assert (await driver.account_state(0)).leverage == leverage_after

    run(scenario, price)


@settings(max_examples=100)
@given(side=sides, size=sizes, price=prices, new_price=prices)
def test_property_7_unrealized_pnl_is_recalculated_at_the_new_oracle_price(
    side: Side, size: Decimal, price: Decimal, new_price: Decimal
) -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, D(50_000))
        await driver.open_position(OpenOrder("o", 0, "SOL-PERP", side, size))
        feed.prices["SOL-PERP"] = new_price
        [position] = (await driver.account_state(0)).positions
        sign = 1 if side is Side.LONG else -1
        assert position.mark_price == new_price
        assert position.unrealized_pnl == (new_price - position.entry_price) * size * sign
        assert position.total_pnl == position.settled_pnl + position.unrealized_pnl

    run(scenario, price)


@settings(max_examples=100)
@given(amount=st.decimals(min_value="-100", max_value="20000", places=6),
       wallet=st.decimals(min_value="0", max_value="15000", places=2))
def test_property_9_deposit_accepted_iff_positive_and_within_the_wallet(
    amount: Decimal, wallet: Decimal
) -> None:
    async def main() -> None:
        driver = paper_driver(FakeFeed(), start_usdc=wallet)
        await driver.start()
        result = await driver.deposit("dep", 0, amount)
        state = await driver.account_state(0)
        event(f"accepted: {D(0) < amount <= wallet}")
        if D(0) < amount <= wallet:
            assert result.status is OrderStatus.FILLED
            assert (state.wallet_usdc, state.quote_balance) == (wallet - amount, amount)
        else:
            assert result.status is OrderStatus.REJECTED
            expected = ErrorCode.INVALID_AMOUNT if amount <= 0 else ErrorCode.INSUFFICIENT_BALANCE
            assert result.error_code == expected
            assert (state.wallet_usdc, state.quote_balance) == (wallet, 0)

    asyncio.run(main())


@settings(max_examples=100)
@given(orders=st.lists(st.tuples(sides, sizes), min_size=1, max_size=5), price=prices)
def test_property_15_close_is_an_offsetting_order_of_exactly_the_position_size(
    orders: list[tuple[Side, Decimal]], price: Decimal
) -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, D(90_000))
        for number, (side, size) in enumerate(orders):
            await driver.open_position(OpenOrder(f"o{number}", 0, "SOL-PERP", side, size))
        positions = (await driver.account_state(0)).positions
        outcome = await driver.close_position("close", 0, "SOL-PERP")
        if not positions:
            assert outcome.result.error_code == ErrorCode.NO_POSITION
            return
        [position] = positions
        assert outcome.result.status is OrderStatus.FILLED
        assert outcome.result.filled_size == position.size
        assert outcome.result.side is position.side.opposite
        assert (await driver.account_state(0)).positions == []

    run(scenario, price)


@settings(max_examples=100)
@given(side=sides, size=st.decimals(min_value="0.01", max_value="5", places=2), price=prices,
       move=st.decimals(min_value="-0.05", max_value="0.05", places=4))
def test_property_16_close_settles_pnl_only_when_unsettled_pnl_exceeds_1_usd(
    side: Side, size: Decimal, price: Decimal, move: Decimal
) -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, D(10_000))
        opened = await driver.open_position(OpenOrder("o", 0, "SOL-PERP", side, size))
        feed.prices["SOL-PERP"] = price * (1 + move)
        outcome = await driver.close_position("c", 0, "SOL-PERP", settle_pnl=True)
        realized = (outcome.result.fill_price - opened.fill_price) * size * side.sign
        state = await driver.account_state(0)
        event(f"settled: {abs(realized) > 1}")
        if abs(realized) > 1:
            assert outcome.settlement is not None
            assert outcome.settlement.notional == abs(realized)  # never negative
            assert state.collateral == state.quote_balance  # nothing left unsettled
        else:
            assert outcome.settlement is None
            assert state.collateral == state.quote_balance + realized
        assert state.quote_balance == D(10_000) - opened.fee - outcome.result.fee + (
            realized if outcome.settlement else 0
        )

    run(scenario, price)


def test_property_1_known_answer_one_hour_short_at_85_016475() -> None:
    async def scenario(feed: FakeFeed, driver: PaperDriver) -> None:
        await driver.deposit("dep", 0, D(1000))
        await driver.open_position(OpenOrder("o", 0, "SOL-PERP", Side.SHORT, D(10)))
        feed.set_rates("SOL-PERP", START, [D("0.0001")])
        feed.clock.set(START + timedelta(minutes=61))
        [payment] = (await driver.account_state(0)).funding_payments
        assert payment.amount == D("0.085016475")

    run(scenario, D("85.016475"))
