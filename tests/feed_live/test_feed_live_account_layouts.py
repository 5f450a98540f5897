"""The live feed reads no account in another program's layout: a PerpMarket the size of
Velocity's fails the read with the reason (never values read from it), and the velocity
profile is refused at start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from driftpy.addresses import get_perp_market_public_key
from solana.rpc.async_api import AsyncClient

from services.common.clock import ManualClock
from services.common.errors import DomainError, ErrorCode
from services.common.venue_profile import UnsupportedVenueError, load_profile
from services.feed.chain_live import ChainLiveMarket
from services.feed.drift_chain import DriftChainReader
from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.feed_live_builders import TTL_SECONDS
from tests.kit.foreign_layouts import resized, velocity_size
from tests.kit.unsupported_profile import REFUSAL, unsupported_profile_file
from tests.kit.venue_sim_builders import SimAndWallet


def grow_sol_perp(sim: SimAndWallet) -> str:
    """Serves SOL-PERP's account grown to Velocity's PerpMarket size; answers its address."""
    store = sim.venue.store
    address = get_perp_market_public_key(store.program_id, 0)
    store.update_data(address, resized(store.get(address).data, velocity_size("PerpMarket")))
    return str(address)


def says_why(text: str, address: str) -> bool:
    return (f"perp market 0 ({address}): the PerpMarket account is 1304 bytes; this venue's IDL "
            "(drift 2.142.0) says 1216 for PerpMarket: the RPC serves another program's layout"
            ) in text


async def test_a_market_account_of_another_layout_fails_the_read_with_the_reason(
    sim: SimAndWallet, live: ChainLiveMarket, caplog: pytest.LogCaptureFixture,
) -> None:
    address = grow_sol_perp(sim)
    with caplog.at_level(logging.ERROR), pytest.raises(DomainError) as refused:
        await live.funding_table(include_untradable=True)
    assert refused.value.code == ErrorCode.VENUE_UNAVAILABLE
    assert says_why(refused.value.message, address)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(says_why(getattr(r, "reason", ""), address) for r in errors)
    assert all(r.exc_info is None for r in errors)  # a clear line, no traceback


async def test_after_a_good_read_the_last_table_is_served_stale_with_the_reason(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    first = await live.funding_table(include_untradable=True)
    address = grow_sol_perp(sim)
    clock.advance(TTL_SECONDS + 1)
    stale = await live.funding_table(include_untradable=True)
    assert stale.rows == first.rows  # nothing read from the grown account
    (note,) = [note for note in stale.notes if note.startswith("STALE")]
    assert says_why(note, address)


async def test_drift_s_chain_reader_refuses_velocity_and_an_unsupported_profile(
    tmp_path: Path,
) -> None:
    connection = AsyncClient("http://127.0.0.1:9")
    try:
        with pytest.raises(UnsupportedVenueError, match="is of the velocity family; Drift's "
                                                        "chain reader reads the drift family"):
            DriftChainReader(connection, load_profile("velocity"))
        with pytest.raises(UnsupportedVenueError, match=REFUSAL):
            DriftChainReader(connection, load_profile(path=unsupported_profile_file(tmp_path)))
    finally:
        await connection.close()


@pytest.mark.integration
async def test_the_live_feed_on_an_unsupported_profile_refuses_to_start_with_the_reason(
    tmp_path: Path,
) -> None:
    log = tmp_path / "feed.log"
    env = {"PORT": "0", "FEED_SOURCE": "drift", "RPC_URL": "http://127.0.0.1:9",
           "VENUE_PROFILE_FILE": str(unsupported_profile_file(tmp_path))}
    process = ServiceProcess("feed", env, log)
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert await process.wait() == 2
    said = await asyncio.to_thread(log.read_text)
    assert f"feed: refusing to start: {REFUSAL}" in said
    assert "Traceback" not in said
