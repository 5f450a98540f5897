"""The live driver's driftpy client decodes with the strict coder: an account the stand-in serves
in another program's size (Velocity's PerpMarket, under Drift's discriminator) halts trading with
the reason, never values read from it; and the velocity profile is refused before anything
connects."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from driftpy.addresses import get_perp_market_public_key

from services.common.account_layouts import StrictAccountsCoder
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OpenOrder, OrderStatus, Side
from services.common.venue_profile import UnsupportedVenueError, load_profile
from services.executor.app import DriverUnavailableError, check_driver
from services.executor.drift.driver import DriftDriver
from services.executor.settings import ExecutorSettings
from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.executor_live_builders import LiveRig
from tests.kit.foreign_layouts import resized, velocity_size
from tests.kit.unsupported_profile import REFUSAL, unsupported_profile_file

REASON = ("the PerpMarket account is 1304 bytes; this venue's IDL (drift 2.142.0) says 1216 for "
          "PerpMarket: the RPC serves another program's layout")


def grow_sol_perp(rig: LiveRig) -> bytes:
    """Serves SOL-PERP grown to Velocity's PerpMarket size; answers the recorded bytes."""
    store = rig.venue.store
    address = get_perp_market_public_key(store.program_id, 0)
    recorded = store.get(address).data
    store.update_data(address, resized(recorded, velocity_size("PerpMarket")))
    return recorded


def short_sol(client_order_id: str) -> OpenOrder:
    return OpenOrder(client_order_id, 0, "SOL-PERP", Side.SHORT, Decimal("0.1"))


async def wait_until(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_an_account_of_another_layout_at_start_halts_trading_with_the_reason(
    rig: LiveRig, state_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    recorded = grow_sol_perp(rig)
    driver = rig.driver(state_path)
    with caplog.at_level(logging.ERROR):
        await driver.start()
    try:
        status = await driver.status()
        assert not status.connected and status.trading_halted
        assert status.halt_reason.startswith(REASON)
        refused = await driver.deposit("dep", 0, Decimal(10))
        assert refused.status is OrderStatus.FAILED
        assert refused.error_code == ErrorCode.VENUE_UNAVAILABLE
        assert refused.error_message.startswith(REASON)
        with pytest.raises(DomainError) as unread:
            await driver.account_state(0)
        assert unread.value.message.startswith(REASON)
        assert rig.venue.journal.sent() == []
        (logged,) = [r for r in caplog.records if "venue account refused" in r.getMessage()]
        assert logged.reason.startswith(REASON) and logged.exc_info is None

        # Served in the IDL's layout again: the reconnection's re-sync lets trading resume.
        rig.venue.store.update_data(get_perp_market_public_key(rig.venue.store.program_id, 0),
                                    recorded)

        async def connected() -> bool:
            return (await driver.status()).connected

        await wait_until(connected)
        assert REASON not in (await driver.status()).halt_reason
    finally:
        await driver.close()


async def test_an_account_of_another_layout_after_start_refuses_the_order_not_misreads_it(
    rig: LiveRig, driver: DriftDriver,
) -> None:
    client = driver._session.view.client  # type: ignore[union-attr]
    assert isinstance(client.program.coder.accounts, StrictAccountsCoder)
    grow_sol_perp(rig)
    result = await driver.open_position(short_sol("short"))
    assert result.status is OrderStatus.FAILED
    assert result.error_code == ErrorCode.VENUE_UNAVAILABLE
    assert result.error_message.startswith(REASON)
    assert rig.venue.journal.sent() == []
    status = await driver.status()
    assert status.trading_halted and status.halt_reason.startswith(REASON)


async def test_the_driver_refuses_an_unsupported_profile_before_it_connects(
    rig: LiveRig, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedVenueError, match=REFUSAL):
        rig.driver(profile=load_profile(path=unsupported_profile_file(tmp_path)))
    assert rig.venue.calls["getAccountInfo"] == 0


def test_the_live_driver_check_refuses_an_unsupported_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {"EXECUTOR_DRIVER": "drift", "RPC_URL": "http://127.0.0.1:1",
                        "VENUE_PROFILE_FILE": str(unsupported_profile_file(tmp_path))}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DriverUnavailableError) as refused:
        check_driver(ExecutorSettings())
    assert str(refused.value).startswith(f"VENUE_PROFILE: {REFUSAL}")


@pytest.mark.integration
async def test_the_live_executor_on_an_unsupported_profile_refuses_to_start_with_the_reason(
    tmp_path: Path,
) -> None:
    process = ServiceProcess("executor", {"PORT": "0", "EXECUTOR_DRIVER": "drift",
                                          "RPC_URL": "http://127.0.0.1:1",
                                          "VENUE_PROFILE_FILE": str(
                                              unsupported_profile_file(tmp_path))},
                             tmp_path / "executor.log")
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert await process.wait() == 2
    said = process.log_tail()
    assert f"executor: VENUE_PROFILE: {REFUSAL}" in said
    assert "Traceback" not in said
