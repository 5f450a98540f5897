import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.anchor_idl import AnchorIdl
from services.common.venue_profile import UnsupportedVenueError, load_profile
from tests.kit.unsupported_profile import REFUSAL, unsupported_profile_file


def test_the_drift_profile_names_drifts_program_and_usdc() -> None:
    drift = load_profile("drift")
    assert drift.program_id == "dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH"
    assert drift.quote_symbol == "USDC"
    assert '"name": "drift"' in drift.idl_json()


def test_the_velocity_profile_is_a_fork_with_usdt() -> None:
    velocity = load_profile("velocity")
    assert velocity.program_id == "vELoC1audYbSYVRXn1vPaV8Axoa9oU6BYmNGZZBDZ1P"
    assert velocity.quote_symbol == "USDT"


def test_the_velocity_profile_names_its_own_idl_for_its_own_program() -> None:
    velocity = load_profile("velocity")
    idl = AnchorIdl(json.loads(velocity.idl_json()))
    assert idl.address == velocity.program_id
    assert idl.accounts["PerpMarket"].size == 1304   # Drift's is 1,216


def test_an_unsupported_profile_loads_but_says_why_and_each_reader_keeps_to_its_family(
    tmp_path: Path,
) -> None:
    refused_profile = load_profile(path=unsupported_profile_file(tmp_path))
    with pytest.raises(UnsupportedVenueError) as refused:
        refused_profile.require_supported()
    assert str(refused.value) == REFUSAL
    for name, family in (("drift", "drift"), ("velocity", "velocity")):
        profile = load_profile(name)
        assert (profile.unsupported, profile.family) == ("", family)
        profile.require_supported()
        profile.require_family(family, "its reader")
    with pytest.raises(UnsupportedVenueError, match="'velocity' is of the velocity family"):
        load_profile("velocity").require_family("drift", "driftpy")


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known profiles"):
        load_profile("mango")


def test_a_profile_with_a_malformed_address_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "config/venues/drift.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH", "not-base58!"))
    with pytest.raises(ValidationError):
        load_profile(path=bad)
