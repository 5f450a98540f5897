"""The live driver on the venue stand-in: transfers, perp orders and what the venue received."""

from __future__ import annotations

from decimal import Decimal

from driftpy.math.margin import MarginCategory

from services.common.errors import ErrorCode
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.drift import venue_rules
from services.executor.drift.driver import DriftDriver
from tests.executor_live.conftest import SOL_ORACLE
from tests.kit.executor_live_builders import LiveRig
from tests.kit.venue_sim_builders import drift_client

ORACLE = Decimal(SOL_ORACLE)


def placed(rig: LiveRig) -> list[dict]:
    return [ix.args["params"] for ix in rig.venue.journal.drift_instructions("place_perp_order")]


async def test_deposit_and_withdraw_round_trip_with_the_state_from_driftpys_user_math(
    rig: LiveRig, driver: DriftDriver
) -> None:
    deposit = await driver.deposit("dep-1", 0, Decimal(1000))
    assert deposit.status is OrderStatus.FILLED, deposit.error_message
    assert deposit.tx_signature
    state = await driver.account_state(0)
    assert state.wallet_usdc == Decimal(9000)
    assert Decimal(999) < state.quote_balance <= Decimal(1000)
    async with drift_client(rig.sim.rpc_url, rig.wallet) as client:
        user = client.get_user()
        assert state.collateral == Decimal(user.get_total_collateral(
            MarginCategory.MAINTENANCE)) / 10**6
        assert state.free_collateral == Decimal(user.get_free_collateral()) / 10**6
        assert state.health_ratio == user.get_health() == 100
    withdraw = await driver.withdraw("wd-1", 0, Decimal(400))
    assert withdraw.status is OrderStatus.FILLED, withdraw.error_message
    after = await driver.account_state(0)
    assert after.wallet_usdc == Decimal(9400)
    assert Decimal(599) < after.quote_balance <= Decimal(600)
    (dep,) = rig.venue.journal.drift_instructions("deposit")
    (wd,) = rig.venue.journal.drift_instructions("withdraw")
    assert dep.args == {"market_index": 0, "amount": 1_000_000_000, "reduce_only": False}
    assert wd.args == {"market_index": 0, "amount": 400_000_000, "reduce_only": True}


async def test_a_withdrawal_beyond_free_collateral_is_refused_before_anything_is_sent(
    rig: LiveRig, driver: DriftDriver
) -> None:
    refused = await driver.withdraw("wd-big", 0, Decimal(5))
    assert refused.status is OrderStatus.REJECTED
    assert refused.error_code == ErrorCode.INSUFFICIENT_COLLATERAL
    assert rig.venue.journal.sent() == []


async def test_open_places_a_market_order_with_the_property_14_limit_and_close_offsets_it(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(1000))
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT,
                                                  Decimal("1.5")))
    assert opened.status is OrderStatus.FILLED, opened.error_message
    assert opened.filled_size == Decimal("1.5")
    assert opened.oracle_price == ORACLE
    (order,) = placed(rig)
    assert order["market_index"] == 0
    assert order["direction"] == "Short"
    assert order["order_type"] == "Market"
    assert order["base_asset_amount"] == 1_500_000_000
    limit = venue_rules.price_limit(ORACLE, Side.SHORT, Decimal("0.005"))
    assert order["price"] == int(limit * 10**6)
    assert order["reduce_only"] is False
    # The account after the fill takes RPC reads: the order's answer does not wait for them.
    assert await driver.account_after_fill(0) is None
    state = await driver.account_state(0)
    (position,) = state.positions
    assert (position.market, position.side, position.size) == ("SOL-PERP", Side.SHORT,
                                                               Decimal("1.5"))
    assert position.mark_price == ORACLE

    closed = await driver.close_position("close", 0, "SOL-PERP", settle_pnl=True)
    assert closed.result.status is OrderStatus.FILLED, closed.result.error_message
    close_order = placed(rig)[1]
    # Property 15: an offsetting reduce-only order of exactly the position's size.
    assert close_order["direction"] == "Long"
    assert close_order["base_asset_amount"] == 1_500_000_000
    assert close_order["reduce_only"] is True
    assert close_order["price"] == int(venue_rules.price_limit(ORACLE, Side.LONG,
                                                               Decimal("0.005")) * 10**6)
    assert (await driver.account_state(0)).positions == []
    # Fees only (well under $1): property 16 does not settle.
    assert closed.settlement is None
    assert rig.venue.journal.drift_instructions("settle_pnl") == []


async def test_property_16_a_close_with_more_than_one_dollar_unsettled_settles_pnl(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(1000))
    await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT, Decimal(2)))
    await rig.post("/_control/oracle", {"market_index": 0, "price": "80"})  # short gains ~$10
    closed = await driver.close_position("close", 0, "SOL-PERP", settle_pnl=True)
    assert closed.result.status is OrderStatus.FILLED, closed.result.error_message
    assert closed.settlement is not None
    assert closed.settlement.status is OrderStatus.FILLED, closed.settlement.error_message
    assert closed.settlement.client_order_id == "close:settle"
    assert closed.settlement.notional > Decimal(1)
    (settle,) = rig.venue.journal.drift_instructions("settle_pnl")
    assert settle.args == {"market_index": 0}


async def test_the_same_client_order_id_never_trades_twice(
    rig: LiveRig, driver: DriftDriver
) -> None:
    first = await driver.deposit("dep", 0, Decimal(10))
    again = await driver.deposit("dep", 0, Decimal(10))
    assert again.replayed and again.tx_signature == first.tx_signature
    assert len(rig.venue.journal.sent()) == 1
    assert (await driver.get_order("dep")) == first


async def test_a_restarted_driver_answers_an_earlier_id_from_its_order_log(
    rig: LiveRig, driver: DriftDriver, state_path
) -> None:
    first = await driver.deposit("dep", 0, Decimal(10))
    await driver.close()
    restarted = rig.driver(state_path)
    await restarted.start()
    try:
        again = await restarted.deposit("dep", 0, Decimal(10))
    finally:
        await restarted.close()
    assert again.replayed and again.tx_signature == first.tx_signature
    assert len(rig.venue.journal.sent()) == 1


async def test_swap_buys_and_sells_sol_through_the_swap_api_signed_by_the_wallet(
    rig: LiveRig, driver: DriftDriver
) -> None:
    bought = await driver.swap("buy", Side.LONG, Decimal("0.5"))
    assert bought.status is OrderStatus.FILLED, bought.error_message
    assert Decimal("0.49") < bought.filled_size < Decimal("0.5")
    state = await driver.account_state(0)
    assert state.wallet_sol > Decimal(2)
    sold = await driver.swap("sell", Side.SHORT, Decimal("0.25"))
    assert sold.status is OrderStatus.FILLED, sold.error_message
    assert sold.filled_size == Decimal("0.25")
    assert all(entry.transaction.signatures_valid for entry in rig.venue.journal.sent())
    limited = await driver.swap("limited", Side.LONG, Decimal("0.5"), Decimal(80))
    assert limited.error_code == ErrorCode.PRICE_LIMIT


async def test_unknown_markets_and_other_sub_accounts_are_refused(driver: DriftDriver) -> None:
    unknown = await driver.open_position(OpenOrder("x", 0, "DOGE-PERP", Side.LONG, Decimal(1)))
    assert unknown.error_code == ErrorCode.INVALID_MARKET
    other = await driver.deposit("y", 3, Decimal(1))
    assert other.error_code == ErrorCode.INVALID_ARGUMENT
    assert "DRIFT_SUB_ACCOUNT" in other.error_message
