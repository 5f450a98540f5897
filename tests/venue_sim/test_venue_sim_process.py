"""`python -m services.venue_sim` as a real process: the launcher's way of starting it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from driftpy.addresses import get_state_public_key
from solana.rpc.async_api import AsyncClient

from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.venue_sim_builders import PROGRAM_ID, decode_account

pytestmark = pytest.mark.integration


async def test_the_process_prints_its_urls_and_serves_a_paused_state(tmp_path: Path) -> None:
    process = ServiceProcess("venue_sim", {"PORT": "0", "SIM_PAUSED": "true"},
                             tmp_path / "venue_sim.log", readiness="http")
    address = await process.start(timeout=30)
    try:
        connection = AsyncClient(f"http://{address}")
        try:
            health = await connection.is_connected()
            state = await connection.get_account_info(get_state_public_key(PROGRAM_ID))
        finally:
            await connection.close()
        assert health
        assert decode_account(state.value.data).exchange_status == 0xFF
        async with httpx.AsyncClient() as http:
            manifest = (await http.get(f"http://{address}/_control/manifest")).json()
        assert {"recorded", "synthetic"} == {a["origin"] for a in manifest["accounts"]}
    finally:
        assert await process.stop() == 0
    lines = process.log_path.read_text().splitlines()
    urls = [line for line in lines if line.startswith("venue_sim ")]
    assert [u.split(" http")[0].split(" ws")[0] for u in urls] == \
        ["venue_sim websocket", "venue_sim data api", "venue_sim swap api"]


async def test_the_process_refuses_a_missing_accounts_file(tmp_path: Path) -> None:
    process = ServiceProcess("venue_sim", {"PORT": "0",
                                           "DNE_SIM_ACCOUNTS": str(tmp_path / "none.json")},
                             tmp_path / "venue_sim.log", readiness="http")
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert "refusing to start" in process.log_tail()
    assert "DNE_SIM_ACCOUNTS" in process.log_tail()
