"""Live funding payments (property 33 on the live venue): a funding update of a market the
sub-account holds is one payment in account_state, with an id stable across reads, of the
sign and size Drift's cumulative funding rates give; the vault records it once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from dne.vault.v1 import vault_pb2
from services.common import venue_wire
from services.common.clock import ManualClock
from services.common.venue import OpenOrder, OrderStatus, Side
from services.executor.drift.driver import DriftDriver
from services.vault.database import create_engine
from services.vault.domain import VaultKey
from services.vault.store import VaultStore
from services.vault.wire import parse_sync
from tests.executor_live.conftest import SOL_ORACLE
from tests.kit.executor_live_builders import LiveRig

RATE_1H = Decimal("0.0002")  # longs pay shorts 0.02 % of the price this hour


async def funded_short(rig: LiveRig, driver: DriftDriver, size: str) -> None:
    assert (await driver.deposit("dep", 0, Decimal(1000))).status is OrderStatus.FILLED
    opened = await driver.open_position(OpenOrder("short", 0, "SOL-PERP", Side.SHORT,
                                                  Decimal(size)))
    assert opened.status is OrderStatus.FILLED, opened.error_message


async def funding_hour(rig: LiveRig, rate: Decimal = RATE_1H) -> dict:
    return await rig.post("/_control/funding", {"market_index": 0, "rate_1h": str(rate)})


async def test_a_funding_update_is_one_payment_of_the_right_sign_and_size_stable_across_reads(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await funded_short(rig, driver, "1.5")
    assert (await driver.account_state(0)).funding_payments == []
    update = await funding_hour(rig)
    first = await driver.account_state(0)
    again = await driver.account_state(0)
    (payment,) = first.funding_payments
    assert again.funding_payments == first.funding_payments
    # The short receives size x rate x price: 1.5 x 0.0002 x 85.016475 (the served oracle).
    assert payment.amount == Decimal("1.5") * RATE_1H * Decimal(SOL_ORACLE) > 0
    assert (payment.market, payment.side, payment.size) == ("SOL-PERP", Side.SHORT,
                                                           Decimal("1.5"))
    assert update["funding_rate"] == 17_003_295  # the amount above, in Drift's precision
    (position,) = first.positions
    # driftpy's unsettled funding PnL of the position is the same amount (in float math)
    assert abs(position.funding_pnl - payment.amount) < Decimal("1e-12")

    # The next hour the short pays: the stand-in rounds 0.0001 x 85.016475 to 8_501_648 / 1e9.
    next_update = await funding_hour(rig, Decimal("-0.0001"))
    later = await driver.account_state(0)
    (paid,) = [p for p in later.funding_payments if p.payment_id != payment.payment_id]
    assert paid.amount == Decimal("1.5") * next_update["funding_rate"] / 10**9 < 0
    assert paid.amount == Decimal("-0.012752472")


async def test_a_position_opened_after_the_update_was_paid_nothing(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await funding_hour(rig)
    await funded_short(rig, driver, "1")
    assert (await driver.account_state(0)).funding_payments == []


async def test_the_vault_records_a_live_funding_payment_once(
    rig: LiveRig, driver: DriftDriver, tmp_path: Path
) -> None:
    await funded_short(rig, driver, "2")
    await funding_hour(rig)
    store = VaultStore(create_engine(f"sqlite:///{tmp_path / 'vault.db'}"),
                       ManualClock(datetime(2026, 3, 9, 13, tzinfo=UTC)))
    await store.create_schema()
    try:
        for _ in range(2):  # two syncs of the same account: one payment
            state = await driver.account_state(0)
            key, sync = parse_sync(vault_pb2.SyncAccountRequest(
                key=vault_pb2.VaultKey(account=state.account, sub_account=0),
                state=venue_wire.account_state_proto(state)))
            await store.sync_account(key, sync)
        recorded = await store.list_funding_payments(VaultKey(state.account, 0), None)
        status = await store.vault_status(VaultKey(state.account, 0))
    finally:
        await store.dispose()
    assert len(recorded) == 1
    assert Decimal(str(status.realized_funding_pnl)) == 2 * RATE_1H * Decimal(SOL_ORACLE)
