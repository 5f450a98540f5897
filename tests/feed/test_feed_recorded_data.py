"""Known answers from the recorded Drift accounts, decoded with driftpy's bundled IDL (and a
buffer of another layout refused)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.feed.drift_accounts import (
    SNAPSHOTS_FILE,
    PerpMarketSnapshot,
    SnapshotError,
    load_latest_perp_markets,
)
from tests.kit.feed_builders import DATA_DIR, recorded_summaries
from tests.kit.foreign_layouts import resized, velocity_size

SOL_PERP_HOURLY_RATE = -1.1613146303854631e-05
Snapshots = dict[str, PerpMarketSnapshot]


@pytest.fixture(scope="module")
def snapshots() -> Snapshots:
    return load_latest_perp_markets(DATA_DIR)


def test_sol_perp_hourly_rate_is_last_funding_rate_over_oracle_twap(snapshots: Snapshots) -> None:
    sol = snapshots["SOL-PERP"]
    assert float(sol.hourly_rate) == pytest.approx(SOL_PERP_HOURLY_RATE, rel=1e-12)
    # (last_funding_rate / 1e9) / (last_oracle_price_twap / 1e6), exactly, in decimals.
    assert sol.hourly_rate == (Decimal(-987625) / Decimal(10**9)) / (
        Decimal(85043706) / Decimal(10**6)
    )


def test_every_recorded_market_rate_equals_its_summary_hourly_rate_fraction(
    snapshots: Snapshots,
) -> None:
    summaries = recorded_summaries()
    checked = 0
    for name, summary in summaries.items():
        if summary["hourly_rate_fraction"] is None:
            continue
        assert float(snapshots[name].hourly_rate) == pytest.approx(
            summary["hourly_rate_fraction"], rel=1e-12, abs=1e-18
        ), name
        checked += 1
    assert checked >= 9


def test_the_latest_snapshot_per_market_index_is_kept(snapshots: Snapshots) -> None:
    assert len(snapshots) == 12
    # Three BTC-PERP accounts were recorded: the one of slot 353317544 (2025-07-14) is latest.
    assert snapshots["BTC-PERP"].last_update_slot == 353317544
    assert snapshots["1MBONK-PERP"].last_update_slot == 234917824
    # Two TRUMP-WIN accounts share a slot: the later one is in settlement.
    assert snapshots["TRUMP-WIN-2024-PREDICT"].status == "settlement"


def test_prices_sizes_and_ratios_are_scaled_by_drift_precisions(snapshots: Snapshots) -> None:
    sol = snapshots["SOL-PERP"]
    assert sol.oracle_price == Decimal("85.016475")
    assert sol.mark_twap == Decimal("85.001305")
    assert sol.base_long == Decimal("422751.35")
    assert sol.base_short == Decimal("-425175.12")
    assert sol.open_interest_base == Decimal("847926.47")
    assert sol.volume_24h == Decimal("21702819.705585")
    assert sol.margin_ratio_initial == Decimal("0.05")
    assert sol.margin_ratio_maintenance == Decimal("0.03")


def test_status_and_contract_type_read_as_lowercase_snake(snapshots: Snapshots) -> None:
    assert snapshots["1MBONK-PERP"].status == "funding_paused"
    assert snapshots["SOL-PERP"].status == "active"
    assert snapshots["SOL-PERP"].contract_type == "perpetual"
    assert snapshots["SOL-PERP"].contract_tier == "b"
    assert snapshots["KAMALA-POPULAR-VOTE-PREDICT"].contract_type == "prediction"
    assert snapshots["KAMALA-POPULAR-VOTE-PREDICT"].contract_tier == "highly_speculative"


def test_a_recorded_market_in_another_programs_size_is_refused_not_misread(
    tmp_path: Path,
) -> None:
    document = json.loads((DATA_DIR / SNAPSHOTS_FILE).read_text())
    market = next(a for a in document["accounts"] if a["kind"] == "PerpMarket")
    grown = resized(base64.b64decode(market["base64"]), velocity_size("PerpMarket"))
    market["base64"] = base64.b64encode(grown).decode()
    (tmp_path / SNAPSHOTS_FILE).parent.mkdir(parents=True)
    (tmp_path / SNAPSHOTS_FILE).write_text(json.dumps(document))
    with pytest.raises(SnapshotError, match="the PerpMarket account is 1304 bytes; this venue"):
        load_latest_perp_markets(tmp_path)
