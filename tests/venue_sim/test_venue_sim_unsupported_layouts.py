"""The stand-in serves no venue its IDL misreads: a profile marked unsupported is refused (in
process, as `python -m services.venue_sim`, and under `make run-live-sim`'s launcher), and a
recorded account of another layout is not served."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path

import pytest

from services.common.account_layouts import AccountLayoutError
from services.common.venue_profile import UnsupportedVenueError, load_profile
from services.launcher.processes import ServiceProcess, ServiceStartError
from services.venue_sim.accounts import SnapshotError, build_store, load_snapshot
from tests.kit.foreign_layouts import resized, velocity_size
from tests.kit.unsupported_profile import REFUSAL, unsupported_profile_file
from tests.kit.venue_sim_builders import decode_account, recorded_records, snapshot_path
from tests.launcher.test_launcher_process import launcher_env


def test_the_store_refuses_to_serve_an_unsupported_profile(tmp_path: Path) -> None:
    profile = load_profile(path=unsupported_profile_file(tmp_path))
    with pytest.raises(UnsupportedVenueError, match=REFUSAL):
        build_store(list(recorded_records()), profile=profile)


def test_the_stand_ins_coder_refuses_a_buffer_of_another_layout() -> None:
    market = next(record.data for record in recorded_records() if record.kind == "PerpMarket")
    assert decode_account(market).name
    with pytest.raises(AccountLayoutError, match="PerpMarket account is 1304 bytes"):
        decode_account(resized(market, velocity_size("PerpMarket")))


def test_a_recorded_account_in_another_programs_size_is_not_served(tmp_path: Path) -> None:
    document = json.loads(snapshot_path().read_text())
    market = next(a for a in document["accounts"] if a["kind"] == "PerpMarket")
    grown = resized(base64.b64decode(market["base64"]), velocity_size("PerpMarket"))
    market["base64"] = base64.b64encode(grown).decode()
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotError) as refused:
        load_snapshot(path)
    assert "the PerpMarket account is 1304 bytes; this venue's IDL (drift 2.142.0) says 1216 " \
           "for PerpMarket" in str(refused.value)


@pytest.mark.integration
async def test_the_process_on_an_unsupported_profile_refuses_to_start_with_the_reason(
    tmp_path: Path,
) -> None:
    process = ServiceProcess("venue_sim", {"PORT": "0", "VENUE_PROFILE_FILE": str(
                                 unsupported_profile_file(tmp_path))},
                             tmp_path / "venue_sim.log", readiness="http")
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert await process.wait() == 2
    said = process.log_tail()
    assert f"venue_sim: refusing to start: {REFUSAL}" in said
    assert "Traceback" not in said


@pytest.mark.integration
async def test_run_live_sim_on_an_unsupported_profile_ends_with_the_reason(
    tmp_path: Path,
) -> None:
    # what `make run-live-sim VENUE_PROFILE_FILE=...` runs: the stand-in starts first, and refuses
    env = {**launcher_env(tmp_path / "var"),
           "VENUE_PROFILE_FILE": str(unsupported_profile_file(tmp_path))}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.launcher", "--live-sim", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 1
    said = err.decode()
    assert "start-up failed: venue_sim did not start" in said
    assert REFUSAL in said
    assert "Traceback" not in said and "Ready." not in out.decode()
