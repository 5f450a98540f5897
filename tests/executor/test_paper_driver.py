"""The paper venue: known answers, trading rules, funding, idempotency and persistence."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.common.errors import ErrorCode
from services.common.venue import OpenOrder, OrderKind, OrderStatus, Side
from services.executor.paper_driver import PaperDriver
from services.executor.paper_fills import tx_signature
from services.executor.paper_state import StateFile
from tests.kit.executor_fakes import SOL_PRICE, START, FakeFeed, paper_driver, perp_market

D = Decimal


def short(cid: str, size: str, **options: object) -> OpenOrder:
    return OpenOrder(cid, 0, "SOL-PERP", Side.SHORT, D(size), **options)  # type: ignore[arg-type]


def long(cid: str, size: str, **options: object) -> OpenOrder:
    return OpenOrder(cid, 0, "SOL-PERP", Side.LONG, D(size), **options)  # type: ignore[arg-type]


async def test_open_10_sol_short_at_85_016475_known_answer(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    result = await driver.open_position(short("short-10", "10"))

    assert result.status is OrderStatus.FILLED
    # slippage = 0.001 + 0.002 (1 - e^(-850.16475 / 100000))
    assert result.slippage == D("0.001016931221382570639593507588")
    assert result.fill_price == D("84.930019")  # 85.016475 x (1 - s), floored to 1e-6
    assert result.notional == D("849.30019")
    assert result.fee == D("0.169861")  # 0.0002 x notional, rounded up to 1e-6
    assert result.tx_signature == tx_signature("short-10")
    assert result.tx_signature.startswith("paper:")

    state = await driver.account_state(0)
    assert state.quote_balance == D("999.830139")
    assert state.collateral == D("998.965579")  # quote + (84.930019 - 85.016475) x 10
    assert state.margin_requirement == D("42.5082375")  # 850.16475 x 0.05
    assert state.initial_margin_requirement == D("85.016475")
    assert state.free_collateral == D("913.949104")
    assert state.leverage == D("850.16475") / D("998.965579")
    assert state.health_ratio == 100 * (1 - D("42.5082375") / D("998.965579"))
    [position] = state.positions
    assert (position.side, position.size, position.entry_price) == (Side.SHORT, 10, D("84.930019"))
    assert position.unrealized_pnl == D("-0.86456")
    assert position.liq_price == D("1849.130329") / D("10.5")
    assert state.wallet_usdc == D(9000)
    assert state.wallet_sol == D(1)


async def test_increase_uses_the_size_weighted_entry(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(5000))
    first = await driver.open_position(short("a", "10"))
    second = await driver.open_position(short("b", "30"))
    [position] = (await driver.account_state(0)).positions
    assert position.size == 40
    assert position.entry_price == (10 * first.fill_price + 30 * second.fill_price) / 40


async def test_reduce_realizes_pnl_into_unsettled_and_keeps_entry(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(5000))
    opened = await driver.open_position(short("a", "10"))
    feed.prices["SOL-PERP"] = D(80)
    reduced = await driver.open_position(long("b", "4"))
    state = await driver.account_state(0)
    [position] = state.positions
    assert position.size == 6 and position.entry_price == opened.fill_price
    realized = (opened.fill_price - reduced.fill_price) * 4
    unrealized = (opened.fill_price - D(80)) * 6
    assert state.quote_balance == 5000 - opened.fee - reduced.fee
    assert state.collateral == state.quote_balance + realized + unrealized


async def test_an_order_through_zero_reduces_then_opens_the_rest_the_other_way(
    driver: PaperDriver,
) -> None:
    await driver.deposit("dep", 0, D(5000))
    await driver.open_position(short("a", "10"))
    flipped = await driver.open_position(long("b", "15"))
    [position] = (await driver.account_state(0)).positions
    assert (position.side, position.size) == (Side.LONG, 5)
    assert position.entry_price == flipped.fill_price


async def test_leverage_above_10x_is_refused_and_nothing_changes(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    refused = await driver.open_position(short("big", "120"))  # ~10,200 USD on ~1,000
    assert refused.status is OrderStatus.REJECTED
    assert refused.error_code == ErrorCode.LEVERAGE_LIMIT
    assert "10" in refused.error_message
    state = await driver.account_state(0)
    assert state.positions == [] and state.quote_balance == 1000


async def test_reducing_orders_are_allowed_whatever_the_leverage(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(1000))
    assert (await driver.open_position(short("a", "100"))).status is OrderStatus.FILLED
    feed.prices["SOL-PERP"] = D(90)  # the short loses; leverage now above 10x
    assert (await driver.account_state(0)).leverage > 10
    reduced = await driver.open_position(long("b", "10"))
    assert reduced.status is OrderStatus.FILLED


async def test_unknown_and_untradable_markets_are_refused_with_their_codes(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    feed.add_market(perp_market("1MBONK-PERP", tradable=False, status="funding_paused"), D("0.02"))
    feed.add_market(perp_market("XRP-PERP", tradable=False, status="reduce_only"), D(2))
    feed.add_market(perp_market("ELECTION-BET", contract_type="prediction", tradable=False), D(1))
    await driver.deposit("dep", 0, D(1000))
    cases = {
        "DOGE-PERP": ErrorCode.INVALID_MARKET,
        "1MBONK-PERP": ErrorCode.MARKET_FUNDING_PAUSED,
        "XRP-PERP": ErrorCode.MARKET_NOT_TRADABLE,
        "ELECTION-BET": ErrorCode.MARKET_NOT_TRADABLE,
    }
    for market, code in cases.items():
        result = await driver.open_position(OpenOrder(f"o-{market}", 0, market, Side.SHORT, D(1)))
        assert (result.status, result.error_code) == (OrderStatus.REJECTED, code), market
        assert result.error_message


async def test_a_fill_worse_than_the_price_limit_is_refused(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    refused = await driver.open_position(short("a", "1", price_limit=SOL_PRICE))
    assert refused.error_code == ErrorCode.PRICE_LIMIT
    accepted = await driver.open_position(short("b", "1", price_limit=D(84)))
    assert accepted.status is OrderStatus.FILLED and accepted.fill_price >= 84


async def test_reduce_only_trims_to_the_position_and_needs_one(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    nothing = await driver.open_position(long("r0", "1", reduce_only=True))
    assert nothing.error_code == ErrorCode.NO_POSITION
    await driver.open_position(short("a", "2"))
    trimmed = await driver.open_position(long("r1", "5", reduce_only=True))
    assert trimmed.filled_size == 2 and trimmed.requested_size == 5
    assert (await driver.account_state(0)).positions == []


async def test_close_without_a_position_answers_no_position(driver: PaperDriver) -> None:
    outcome = await driver.close_position("c", 0, "SOL-PERP", settle_pnl=True)
    assert outcome.result.error_code == ErrorCode.NO_POSITION
    assert outcome.settlement is None


async def test_settle_pnl_moves_unsettled_pnl_into_the_quote_balance(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(5000))
    opened = await driver.open_position(short("a", "10"))
    feed.prices["SOL-PERP"] = D(80)
    outcome = await driver.close_position("c", 0, "SOL-PERP", settle_pnl=False)
    assert outcome.settlement is None
    before = await driver.account_state(0)
    realized = (opened.fill_price - outcome.result.fill_price) * 10
    assert before.collateral == before.quote_balance + realized
    settled = await driver.settle_pnl("s", 0, "SOL-PERP")
    assert settled.kind is OrderKind.SETTLE_PNL and settled.notional == abs(realized)
    after = await driver.account_state(0)
    assert after.quote_balance == before.quote_balance + realized
    assert after.collateral == before.collateral


async def test_settling_an_open_position_moves_its_unrealized_pnl_like_drift(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(5000))
    opened = await driver.open_position(short("a", "10"))
    feed.prices["SOL-PERP"] = D(80)
    before = await driver.account_state(0)
    unrealized = (opened.fill_price - D(80)) * 10
    assert before.positions[0].unrealized_pnl == unrealized
    await driver.settle_pnl("s", 0, "SOL-PERP")
    after = await driver.account_state(0)
    position = after.positions[0]
    assert position.unrealized_pnl == 0
    assert position.settled_pnl == unrealized
    assert position.total_pnl == before.positions[0].total_pnl
    assert after.quote_balance == before.quote_balance + unrealized
    assert after.collateral == before.collateral
    # Closing later realizes only what moved after the settlement: nothing is counted twice.
    feed.prices["SOL-PERP"] = D(78)
    closed = await driver.close_position("c", 0, "SOL-PERP", settle_pnl=True)
    final = await driver.account_state(0)
    moved_after = (D(80) - closed.result.fill_price) * 10
    assert final.quote_balance == after.quote_balance - closed.result.fee + moved_after


async def test_deposit_and_withdraw_move_usdc_between_wallet_and_sub_account(
    driver: PaperDriver,
) -> None:
    await driver.deposit("dep", 3, D("2500.5"))
    state = await driver.account_state(3)
    assert (state.quote_balance, state.wallet_usdc) == (D("2500.5"), D("7499.5"))
    withdrawn = await driver.withdraw("wd", 3, D(500))
    assert withdrawn.status is OrderStatus.FILLED and withdrawn.kind is OrderKind.WITHDRAW
    state = await driver.account_state(3)
    assert (state.quote_balance, state.wallet_usdc) == (D("2000.5"), D("7999.5"))
    assert (await driver.account_state(0)).quote_balance == 0  # sub-accounts are separate


async def test_withdrawal_above_free_collateral_is_refused(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    await driver.open_position(short("a", "50"))  # initial margin ~425 USD
    free = (await driver.account_state(0)).free_collateral
    refused = await driver.withdraw("wd", 0, free + D("0.01"))
    assert refused.error_code == ErrorCode.INSUFFICIENT_COLLATERAL
    assert (await driver.withdraw("wd2", 0, free - 1)).status is OrderStatus.FILLED


async def test_swap_buys_and_sells_sol_at_the_sol_perp_oracle_with_slippage(
    driver: PaperDriver,
) -> None:
    bought = await driver.swap("buy", Side.LONG, D(10))
    assert bought.kind is OrderKind.SPOT_BUY and bought.market == "SOL"
    assert bought.fill_price == D("85.102931")  # 85.016475 x (1 + s), ceiled to 1e-6
    state = await driver.account_state(0)
    assert state.wallet_sol == 11
    assert state.wallet_usdc == 10_000 - D("851.02931")
    sold = await driver.swap("sell", Side.SHORT, D(11))
    assert sold.kind is OrderKind.SPOT_SELL
    assert (await driver.account_state(0)).wallet_sol == 0
    too_much = await driver.swap("sell-more", Side.SHORT, D("0.1"))
    assert too_much.error_code == ErrorCode.INSUFFICIENT_BALANCE
    too_dear = await driver.swap("buy-all", Side.LONG, D(1000))
    assert too_dear.error_code == ErrorCode.INSUFFICIENT_BALANCE


async def test_funding_over_several_hours_equals_the_sum_of_size_rate_twap(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(5000))
    await driver.open_position(short("a", "10"))
    rates = [D("0.0001"), D("-0.00005"), D("0.00002"), D("0.00003"), D("-0.00001")]
    twaps = [D(85), D(86), D("84.5"), D(87), D(88)]
    for hour, (rate, twap) in enumerate(zip(rates, twaps, strict=True)):
        feed.set_rates("SOL-PERP", START + timedelta(hours=hour), [rate], twap=twap)
    before = await driver.account_state(0)
    feed.advance_hours(5.5)
    after = await driver.account_state(0)
    expected = sum((10 * rate * twap for rate, twap in zip(rates, twaps, strict=True)), D(0))
    assert after.quote_balance - before.quote_balance == expected
    [position] = after.positions
    assert position.funding_pnl == expected and position.settled_pnl == expected
    ids = [p.payment_id for p in after.funding_payments]
    assert ids == [f"0:SOL-PERP:{int((START + timedelta(hours=h)).timestamp())}" for h in range(5)]
    assert [p.amount for p in after.funding_payments] == [
        10 * r * t for r, t in zip(rates, twaps, strict=True)
    ]
    # Asking again pays nothing twice; funding_since filters by settlement time.
    again = await driver.account_state(0, START + timedelta(hours=4))
    assert again.quote_balance == after.quote_balance
    assert [p.payment_id for p in again.funding_payments] == ids[3:]


async def test_funding_is_not_paid_for_hours_before_the_position(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    feed.set_rates("SOL-PERP", START, [D("0.001")] * 6)
    await driver.deposit("dep", 0, D(5000))
    feed.advance_hours(3.5)
    await driver.open_position(short("a", "10"))
    feed.advance_hours(1)
    state = await driver.account_state(0)
    assert [p.period_start for p in state.funding_payments] == [START + timedelta(hours=3)]


async def test_same_client_order_id_twice_trades_once(driver: PaperDriver) -> None:
    await driver.deposit("dep", 0, D(1000))
    first = await driver.open_position(short("once", "5"))
    second = await driver.open_position(short("once", "5"))
    assert not first.replayed and second.replayed
    assert second.fill_price == first.fill_price and second.tx_signature == first.tx_signature
    [position] = (await driver.account_state(0)).positions
    assert position.size == 5
    replayed_deposit = await driver.deposit("dep", 0, D(1000))
    assert replayed_deposit.replayed
    assert (await driver.account_state(0)).wallet_usdc == 9000
    assert (await driver.get_order("once")) == first
    assert await driver.get_order("never") is None


async def test_a_restart_from_the_state_file_answers_old_ids_without_trading(
    driver: PaperDriver, feed: FakeFeed, state_path: Path
) -> None:
    await driver.deposit("dep", 0, D(1000))
    opened = await driver.open_position(short("o", "5"))
    closed = await driver.close_position("c", 0, "SOL-PERP", settle_pnl=True)
    before = await driver.account_state(0)

    restarted = paper_driver(feed, state_path)
    await restarted.start()
    assert await restarted.account_state(0) == before
    again = await restarted.open_position(short("o", "5"))
    assert again.replayed and again.fill_price == opened.fill_price
    close_again = await restarted.close_position("c", 0, "SOL-PERP", settle_pnl=True)
    assert close_again.result.replayed and close_again.result.notional == closed.result.notional
    assert (await restarted.account_state(0)).positions == []
    saved = await asyncio.to_thread(StateFile(state_path).load)
    assert saved is not None and saved.wallet_usdc == 9000


async def test_the_state_file_is_replaced_atomically_and_leaves_no_temp_files(
    driver: PaperDriver, state_path: Path
) -> None:
    for number in range(5):
        await driver.deposit(f"dep-{number}", 0, D(1))
    assert [p.name for p in state_path.parent.iterdir()] == [state_path.name]


async def test_fail_next_orders_fails_them_with_the_code_and_changes_nothing(
    driver: PaperDriver,
) -> None:
    driver.fail_next(2, "VENUE_UNAVAILABLE", "rpc node down")
    failed = await driver.deposit("d1", 0, D(100))
    assert (failed.status, failed.error_code, failed.error_message) == (
        OrderStatus.FAILED, "VENUE_UNAVAILABLE", "rpc node down")
    assert (await driver.swap("s1", Side.LONG, D(1))).status is OrderStatus.FAILED
    state = await driver.account_state(0)
    assert (state.quote_balance, state.wallet_usdc, state.wallet_sol) == (0, 10_000, 1)
    # The failure is on record and final: the engine recorded it, so the same id never trades
    # later (found by make sim, seed 1949: a duplicated delivery filled after the FAILED answer).
    assert (await driver.get_order("d1")).status is OrderStatus.FAILED
    retried = await driver.deposit("d1", 0, D(100))
    assert retried.status is OrderStatus.FAILED and retried.replayed
    assert (await driver.account_state(0)).quote_balance == 0
    assert (await driver.deposit("d2", 0, D(100))).status is OrderStatus.FILLED  # a new id


async def test_simulated_latency_delays_each_order(feed: FakeFeed) -> None:
    waited: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waited.append(seconds)

    driver = paper_driver(feed, sleep=record_sleep)
    await driver.start()
    driver.set_latency(250)
    await driver.deposit("d", 0, D(1))
    assert waited == [0.25]
    assert (await driver.status()).latency_ms == 250
    with pytest.raises(Exception, match="latency_ms"):
        driver.set_latency(float("nan"))


async def test_feed_outage_fails_orders_and_changes_nothing(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(1000))
    feed.down = True
    failed = await driver.open_position(short("a", "1"))
    assert (failed.status, failed.error_code) == (OrderStatus.FAILED, ErrorCode.FEED_UNAVAILABLE)
    assert not (await driver.status()).connected
    feed.down = False
    assert (await driver.account_state(0)).positions == []
    assert (await driver.open_position(short("a", "1"))).replayed  # answered ids are final
    assert (await driver.open_position(short("a2", "1"))).status is OrderStatus.FILLED


async def test_fills_are_logged_with_the_fields_of_property_46(
    driver: PaperDriver, caplog: pytest.LogCaptureFixture
) -> None:
    await driver.deposit("dep", 0, D(1000))
    with caplog.at_level("INFO", logger="services.executor.paper_driver"):
        await driver.open_position(short("logged", "1"))
    [fill] = [r for r in caplog.records if r.getMessage() == "fill"]
    for name in ("timestamp", "market", "side", "size", "price", "tx_signature"):
        assert getattr(fill, name), name
    [state] = [r for r in caplog.records if r.getMessage() == "account state"]
    for name in ("health_ratio", "leverage", "total_collateral", "free_collateral"):
        assert getattr(state, name), name


async def test_one_answer_asks_each_price_once(feed: FakeFeed, state_path: Path) -> None:
    """A fill's account line is logged at the fill's prices, and an account read asks the
    positions' prices with the clock: the feed is asked once per market per answer."""
    asked: list[str] = []
    price = feed.price

    async def counted(market: str):  # type: ignore[no-untyped-def]
        asked.append(market)
        return await price(market)

    feed.price = counted  # type: ignore[method-assign]
    driver = paper_driver(feed, state_path)
    await driver.start()
    await driver.deposit("dep", 0, D(1000))
    asked.clear()
    opened = await driver.open_position(short("open", "1"))
    assert opened.status is OrderStatus.FILLED
    assert asked == ["SOL-PERP"]
    asked.clear()
    state = await driver.account_state(0)
    assert [p.market for p in state.positions] == ["SOL-PERP"] and asked == ["SOL-PERP"]


async def test_the_account_after_a_fill_is_described_at_the_fill_without_asking_the_feed(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(1000))
    assert (await driver.open_position(short("short-2", "2"))).status is OrderStatus.FILLED
    reads = (feed.clock_reads, feed.price_reads)
    after = await driver.account_after_fill(0)
    assert (feed.clock_reads, feed.price_reads) == reads
    assert after == await driver.account_state(0)  # the clock has not moved: the same answer
    [position] = after.positions
    assert (position.side, position.size) == (Side.SHORT, 2)


async def test_the_account_after_anything_else_is_read_as_usual(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(1000))
    await driver.open_position(short("short-1", "1"))
    clock_reads = feed.clock_reads
    await driver.account_after_fill(1)  # not the sub-account the fill was on
    assert feed.clock_reads == clock_reads + 1
    assert (await driver.swap("buy", Side.LONG, D("0.5"), None)).status is OrderStatus.FILLED
    clock_reads = feed.clock_reads
    state = await driver.account_after_fill(0)  # a swap accrues no sub-account's funding
    assert feed.clock_reads == clock_reads + 1
    assert state.wallet_sol == D("1.5")



async def test_a_change_after_the_fill_makes_the_account_after_it_read_again(
    driver: PaperDriver, feed: FakeFeed
) -> None:
    await driver.deposit("dep", 0, D(1000))
    await driver.open_position(short("short-1", "1"))
    feed.set_rates("SOL-PERP", START, [D("0.0001")] * 3)
    feed.advance_hours(2)
    accrued = await driver.account_state(0)  # pays the funding hours: a change to the state
    assert accrued.funding_payments
    clock_reads = feed.clock_reads
    after = await driver.account_after_fill(0)
    assert feed.clock_reads == clock_reads + 1
    assert after.funding_payments == accrued.funding_payments
