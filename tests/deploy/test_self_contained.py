"""A plain clone runs: nothing the code, the tests or the image need lies outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.feed.settings import DEFAULT_DATA_DIR as FEED_DATA_DIR
from services.venue_sim.settings import DEFAULT_DATA_DIR as VENUE_SIM_DATA_DIR

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ("drift/mainnet_account_snapshots.json", "drift/daily_funding_SOL_BTC_ETH_2026.json",
            "drift/mainnet_user_accounts_b64.txt", "velocity/velocity_idl.json", "PROVENANCE.md")


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
    return listing.splitlines()


def test_the_recorded_data_is_tracked_in_the_repository_and_is_the_default() -> None:
    tracked = set(tracked_files())
    for name in RECORDED:
        assert f"data/{name}" in tracked, f"data/{name} is not in git"
    assert FEED_DATA_DIR == VENUE_SIM_DATA_DIR == ROOT / "data"


def test_no_tracked_file_points_outside_the_repository() -> None:
    # Data, provenance and prose may name where the recordings came from; code, tests,
    # build files and the chart may not reach beside the clone.
    offenders = []
    pointers = ("../" + "shared", "shared/" + "data", '"shared" / ' + '"data"')
    for name in tracked_files():
        if name.startswith("data/") or name.endswith((".png", ".ico")):
            continue
        text = (ROOT / name).read_text(errors="replace")
        if any(pointer in text for pointer in pointers):
            offenders.append(name)
    assert offenders == []
