"""The served accounts: recorded buffers at their PDAs, synthetic ones built and labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from driftpy.accounts.oracle import decode_oracle
from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_state_public_key,
    get_user_account_public_key,
)
from solders.keypair import Keypair

from services.venue_sim.accounts import (
    RECORDED,
    SYNTHETIC,
    SnapshotError,
    build_store,
    load_snapshot,
)
from services.venue_sim.control import Control, ControlError
from tests.kit.venue_sim_builders import (
    PROGRAM_ID,
    decode_account,
    make_venue,
    recorded_records,
    snapshot_path,
)


def test_every_recorded_account_is_served_at_its_pda_or_listed_as_shadowed() -> None:
    venue = make_venue()
    served = {account.data for account in venue.store.accounts.values()
              if account.origin == RECORDED}
    manifest = venue.store.manifest()
    assert len(served) + len(manifest["shadowed"]) == len(recorded_records())
    for account in venue.store.accounts.values():
        if account.origin != RECORDED:
            continue
        decoded = decode_account(account.data)
        expected = {
            "PerpMarket": lambda d: get_perp_market_public_key(PROGRAM_ID, d.market_index),
            "SpotMarket": lambda d: get_spot_market_public_key(PROGRAM_ID, d.market_index),
            "User": lambda d: get_user_account_public_key(PROGRAM_ID, d.authority,
                                                          d.sub_account_id),
        }[account.kind](decoded)
        assert account.address == expected


def test_the_latest_of_several_recordings_of_one_market_wins() -> None:
    venue = make_venue()
    btc = decode_account(venue.store.get(get_perp_market_public_key(PROGRAM_ID, 1)).data)
    recorded_btc = [r.summary for r in recorded_records()
                    if r.kind == "PerpMarket" and r.summary["market_index"] == 1]
    assert len(recorded_btc) == 3
    assert btc.amm.historical_oracle_data.last_oracle_price == 120_003_893_646
    assert btc.amm.last_update_slot == max(s["last_update_slot"] for s in recorded_btc)


def test_every_served_market_has_an_oracle_that_driftpy_decodes_to_its_recorded_price() -> None:
    venue = make_venue()
    markets = venue.store.of_kind("PerpMarket") + venue.store.of_kind("SpotMarket")
    checked = 0
    for account in markets:
        market = decode_account(account.data)
        amm_or_market = market.amm if account.kind == "PerpMarket" else market
        oracle, source = amm_or_market.oracle, amm_or_market.oracle_source
        served = venue.store.get(oracle)
        assert served is not None, f"no oracle for {bytes(market.name).decode().strip()}"
        assert served.origin == SYNTHETIC
        price = decode_oracle(served.data, source).price
        if type(source).__name__ != "Prelaunch":
            # markets sharing an oracle: it holds the most recent market's recorded price
            sharers = [decode_account(a.data) for a in markets]
            recorded = {
                (s.amm if hasattr(s, "amm") else s).historical_oracle_data.last_oracle_price
                for s in sharers if (s.amm if hasattr(s, "amm") else s).oracle == oracle
            }
            assert price in recorded
        checked += 1
    assert checked == len(markets) == 17
    sources = {entry["note"].split(" oracle")[0] for entry in venue.store.manifest()["accounts"]
               if "oracle of" in entry["note"]}
    assert {"PythLazer", "PythLazer1M", "PythLazerStableCoin", "PythPull", "Pyth", "Pyth1M",
            "Prelaunch", "SwitchboardOnDemand"} <= sources


def test_a_missing_state_is_built_paused_or_active_and_labelled_synthetic() -> None:
    for paused, status in ((False, 0), (True, 0xFF)):
        store = build_store(list(recorded_records()), paused=paused)
        state_account = store.get(get_state_public_key(PROGRAM_ID))
        assert state_account.origin == SYNTHETIC
        assert "no State was recorded" in state_account.note
        assert decode_account(state_account.data).exchange_status == status


def test_a_test_wallet_gets_sol_usdc_and_a_drift_user_all_labelled_synthetic() -> None:
    wallet = Keypair()
    venue = make_venue(wallets=(wallet,))
    user = venue.store.get(get_user_account_public_key(PROGRAM_ID, wallet.pubkey(), 0))
    assert user.origin == SYNTHETIC
    assert decode_account(user.data).authority == wallet.pubkey()
    kinds = {entry["kind"] for entry in venue.store.manifest()["accounts"]
             if entry["origin"] == SYNTHETIC and "test wallet" in entry["note"]}
    assert kinds == {"Wallet", "TokenAccount", "User", "UserStats"}


def test_the_accounts_file_named_by_dne_sim_accounts_is_what_gets_served(tmp_path: Path) -> None:
    document = json.loads(snapshot_path().read_text())
    document["accounts"] = [a for a in document["accounts"]
                            if a["kind"] == "PerpMarket" and a["summary"]["name"] == "SOL-PERP"]
    subset = tmp_path / "accounts.json"
    subset.write_text(json.dumps(document))
    store = build_store(load_snapshot(subset))
    assert [a.kind for a in store.accounts.values() if a.origin == RECORDED] == ["PerpMarket"]
    assert decode_account(store.get(get_state_public_key(PROGRAM_ID)).data).number_of_markets == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "cannot read"),
        ('{"accounts": 3}', "expected {'accounts'"),
        ('{"accounts": [{"kind": "User"}]}', "no valid kind/base64"),
        ('{"accounts": [{"kind": "User", "base64": "AAAAAAAAAAA="}]}', "not a Drift account"),
    ],
)
def test_a_malformed_accounts_file_is_refused_with_a_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(content)
    with pytest.raises(SnapshotError, match=message):
        load_snapshot(path)
    with pytest.raises(SnapshotError, match="DNE_SIM_ACCOUNTS"):
        load_snapshot(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "changes",
    [{"outcome": "sometimes"}, {"latency_ms": -1}, {"latency_ms": True}, {"logs": "x"},
     {"drop": [3]}, {"colour": "red"}],
)
def test_the_control_refuses_behaviours_it_cannot_apply(changes: dict) -> None:
    control = Control(PROGRAM_ID)
    with pytest.raises(ControlError):
        control.set(**changes)
    assert control.behaviour.outcome == "confirm"
