"""The live driver on Velocity's stand-in: the same driver as Drift's, reading Velocity's accounts
with its IDL and sending instructions built from it, in USDT.

The stand-in serves the recorded Drift markets re-encoded into Velocity's layout and decodes
every instruction it receives with Velocity's IDL: each test reads what it received (program,
named accounts, arguments) besides what the driver answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.anchor_instructions import AnchorInstructions
from services.common.errors import ErrorCode
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.drift.driver import DriftDriver
from services.feed.velocity_accounts import velocity_decoder
from tests.executor_live.conftest import SOL_ORACLE
from tests.kit.executor_live_builders import LiveRig, live_rig
from tests.kit.velocity_venue import VELOCITY
from tests.kit.venue_sim_builders import WALLET_LAMPORTS, WALLET_USDC

ORACLE = Decimal(SOL_ORACLE)
IX = AnchorInstructions(velocity_decoder().idl)
USDT = VELOCITY.quote_mint


@pytest.fixture
async def rig() -> AsyncIterator[LiveRig]:
    async with live_rig(profile=VELOCITY) as started:
        await started.post("/_control/oracle", {"market_index": 0, "price": SOL_ORACLE})
        yield started


@pytest.fixture
async def driver(rig: LiveRig, tmp_path: Path) -> AsyncIterator[DriftDriver]:
    started = rig.driver(tmp_path / "live_orders.json")
    await started.start()
    try:
        yield started
    finally:
        await started.close()


def received(rig: LiveRig, name: str) -> list:
    """The venue program's instructions of that name the stand-in received and decoded."""
    return rig.venue.journal.drift_instructions(name)


async def test_the_driver_connects_to_velocity_and_reads_its_markets_and_usdt_wallet(
    rig: LiveRig, driver: DriftDriver
) -> None:
    status = await driver.status()
    assert status.connected and not status.trading_halted, status.halt_reason
    assert driver.name == "velocity"
    state = await driver.account_state(0)
    assert state.venue == "velocity"
    assert state.wallet_usdc == Decimal(WALLET_USDC) / 10**6   # its USDT token account
    assert state.wallet_sol == Decimal(WALLET_LAMPORTS) / 10**9
    assert state.collateral == 0 and state.positions == []
    assert state.health_ratio == 100


async def test_a_deposit_and_a_withdrawal_move_usdt_with_velocity_s_instructions(
    rig: LiveRig, driver: DriftDriver
) -> None:
    deposit = await driver.deposit("dep-1", 0, Decimal(1000))
    assert deposit.status is OrderStatus.FILLED, deposit.error_message
    state = await driver.account_state(0)
    assert state.wallet_usdc == Decimal(WALLET_USDC) / 10**6 - 1000
    assert Decimal(999) < state.quote_balance <= Decimal(1000)
    assert Decimal(999) < state.collateral <= Decimal(1000)
    withdrawal = await driver.withdraw("wd-1", 0, Decimal(400))
    assert withdrawal.status is OrderStatus.FILLED, withdrawal.error_message
    assert (await driver.account_state(0)).wallet_usdc == Decimal(WALLET_USDC) / 10**6 - 600

    (dep,) = received(rig, "deposit")
    (wd,) = received(rig, "withdraw")
    wallet = rig.wallet.pubkey()
    assert dep.program_id == wd.program_id == VELOCITY.program_id
    assert dep.args == {"market_index": 0, "amount": 1_000_000_000, "reduce_only": False}
    assert wd.args == {"market_index": 0, "amount": 400_000_000, "reduce_only": True}
    for ix in (dep, wd):
        assert ix.named_accounts["user"] == str(IX.address("user", authority=wallet,
                                                           sub_account_id=0))
        assert ix.named_accounts["state"] == str(IX.address("state"))
        assert ix.named_accounts["spot_market_vault"] == str(
            IX.address("spot_market_vault", market_index=0))
        assert ix.named_accounts["user_token_account"] == str(
            get_associated_token_address(wallet, Pubkey.from_string(USDT)))


async def test_the_carry_s_short_fills_and_closes_with_velocity_s_order_params(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(1000))
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT,
                                                  Decimal(2)))
    assert opened.status is OrderStatus.FILLED, opened.error_message
    assert opened.filled_size == Decimal(2)
    assert ORACLE * Decimal("0.99") < opened.fill_price < ORACLE
    assert opened.fee > 0
    state = await driver.account_state(0)
    (position,) = state.positions
    assert (position.market, position.side, position.size) == ("SOL-PERP", Side.SHORT,
                                                               Decimal(2))
    assert position.mark_price == ORACLE
    assert position.liq_price is not None and position.liq_price > ORACLE
    assert state.margin_requirement > 0 and state.leverage > 0

    (placed,) = received(rig, "place_perp_order")
    params = placed.args["params"]
    assert placed.program_id == VELOCITY.program_id
    assert (params["direction"], params["order_type"], params["base_asset_amount"],
            params["reduce_only"], params["market_index"]) == (
        "Short", "Market", 2 * 10**9, False, 0)
    # Property 14's limit, on Velocity's i64 price grid; no oracle offset, no builder
    assert params["price"] == int(ORACLE * Decimal("0.995") * 10**6)
    assert params["oracle_price_offset"] is None and params["builder_idx"] is None

    closed = await driver.close_position("close", 0, "SOL-PERP", settle_pnl=True)
    assert closed.result.status is OrderStatus.FILLED, closed.result.error_message
    assert closed.result.side is Side.LONG and closed.result.filled_size == Decimal(2)
    assert (await driver.account_state(0)).positions == []
    closing = received(rig, "place_perp_order")[-1].args["params"]
    assert (closing["direction"], closing["reduce_only"]) == ("Long", True)


async def test_a_paused_velocity_program_halts_trading_and_nothing_is_sent(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(500))
    sent_before = len(rig.venue.journal.sent())
    await rig.post("/_control/exchange", {"paused": True})
    status = await driver.status()
    assert status.trading_halted and "venue program is paused" in status.halt_reason
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT,
                                                  Decimal(1)))
    assert opened.error_code == ErrorCode.VENUE_HALTED
    assert len(rig.venue.journal.sent()) == sent_before


async def test_a_reduce_only_market_refuses_an_open_and_lets_a_position_close(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await driver.deposit("dep", 0, Decimal(1000))
    await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT, Decimal(1)))
    await rig.post("/_control/perp_market", {"market_index": 0, "status": "ReduceOnly"})
    more = await driver.open_position(OpenOrder("more", 0, "SOL-PERP", Side.SHORT, Decimal(1)))
    assert more.error_code == ErrorCode.MARKET_NOT_TRADABLE
    assert "its status is ReduceOnly" in more.error_message
    closed = await driver.close_position("close", 0, "SOL-PERP")
    assert closed.result.status is OrderStatus.FILLED, closed.result.error_message


async def test_paused_funding_is_velocity_s_operation_bit_and_refuses_a_new_carry(
    rig: LiveRig, driver: DriftDriver
) -> None:
    # Velocity has no FundingPaused status: the market stays Active with its UpdateFunding
    # bit set. The driver names it as Drift's status, so no carry opens where funding stopped,
    # and a held position can still be reduced.
    await driver.deposit("dep", 0, Decimal(1000))
    await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT, Decimal(1)))
    await rig.post("/_control/perp_market", {"market_index": 0, "status": "FundingPaused"})
    market = rig.venue.store.decoded(rig.venue.store.perp_market_address(0))
    assert (market["status"], market["paused_operations"] & 1) == ("Active", 1)
    more = await driver.open_position(OpenOrder("more", 0, "SOL-PERP", Side.SHORT, Decimal(1)))
    assert more.error_code == ErrorCode.MARKET_NOT_TRADABLE
    assert "FundingPaused" in more.error_message
    closed = await driver.close_position("close", 0, "SOL-PERP")
    assert closed.result.status is OrderStatus.FILLED, closed.result.error_message


async def test_a_failed_simulation_is_rejected_and_nothing_is_sent(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(outcome="fail_simulation",
                          error={"InstructionError": [1, {"Custom": 6003}]})
    result = await driver.deposit("dep", 0, Decimal(100))
    assert (result.status, result.error_code) == (OrderStatus.REJECTED,
                                                  ErrorCode.VENUE_REJECTED)
    assert rig.venue.calls["sendTransaction"] == 0


async def test_an_unconfirmed_order_is_unknown_with_its_signature_and_never_sent_twice(
    rig: LiveRig, driver: DriftDriver
) -> None:
    rig.venue.control.set(outcome="never_confirm")
    result = await driver.deposit("dep", 0, Decimal(100))
    assert result.status is OrderStatus.UNKNOWN
    (sent,) = rig.venue.journal.sent()
    assert result.tx_signature == sent.transaction.signature
    again = await driver.deposit("dep", 0, Decimal(100))
    assert again.replayed and again.status is OrderStatus.UNKNOWN
    assert len(rig.venue.journal.sent()) == 1


async def test_the_spot_leg_is_bought_with_usdt_through_the_swap_api(
    rig: LiveRig, driver: DriftDriver
) -> None:
    bought = await driver.swap("buy", Side.LONG, Decimal("2"))
    assert bought.status is OrderStatus.FILLED, bought.error_message
    state = await driver.account_state(0)
    assert state.wallet_sol > Decimal(WALLET_LAMPORTS) / 10**9 + Decimal("1.9")
    spent = Decimal(WALLET_USDC) / 10**6 - state.wallet_usdc
    assert spent == pytest.approx(bought.notional, abs=0.01)


async def test_a_drift_layout_market_at_velocity_s_address_halts_trading_with_the_sizes(
    rig: LiveRig, driver: DriftDriver
) -> None:
    from services.venue_sim.accounts import load_snapshot
    from tests.kit.venue_sim_builders import DEFAULT_ACCOUNTS

    drift_market = next(r for r in load_snapshot(DEFAULT_ACCOUNTS) if r.kind == "PerpMarket")
    rig.venue.store.update_data(rig.venue.store.perp_market_address(0), drift_market.data)
    await driver.deposit("dep", 0, Decimal(100))
    status = await driver.status()
    opened = await driver.open_position(OpenOrder("open", 0, "SOL-PERP", Side.SHORT,
                                                  Decimal(1)))
    assert opened.error_code == ErrorCode.VENUE_UNAVAILABLE
    assert "1216" in opened.error_message and "1304" in opened.error_message
    assert not status.connected or status.trading_halted
    assert received(rig, "place_perp_order") == []


async def test_a_market_s_taker_fee_add_on_is_in_the_reported_fee_not_the_price(
    rig: LiveRig, driver: DriftDriver
) -> None:
    # Velocity added a per-market taker fee on top of the State's tier; the fill is read from the
    # position's quote, so a driver that knew only the tier would report the add-on as price.
    await driver.deposit("dep", 0, Decimal(1000))
    plain = await driver.open_position(OpenOrder("plain", 0, "SOL-PERP", Side.SHORT,
                                                 Decimal(1)))
    await driver.close_position("close", 0, "SOL-PERP")
    store = rig.venue.store
    address = store.perp_market_address(0)
    market = store.decoded(address)
    market["taker_fee_addon_tenth_bps"] = 50   # 50 tenths of a bp: 5 bp
    store.write(address, "PerpMarket", market)
    charged = await driver.open_position(OpenOrder("charged", 0, "SOL-PERP", Side.SHORT,
                                                   Decimal(1)))
    assert charged.status is OrderStatus.FILLED, charged.error_message
    assert charged.fill_price == pytest.approx(plain.fill_price, abs=Decimal("0.000002"))
    assert charged.fee - plain.fee == pytest.approx(charged.notional * Decimal("0.0005"),
                                                    abs=Decimal("0.000002"))
