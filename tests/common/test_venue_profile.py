import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.anchor_idl import AnchorIdl
from services.common.venue_profile import UnsupportedVenueError, load_profile


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


def test_the_velocity_profile_loads_but_says_why_it_is_unsupported() -> None:
    with pytest.raises(UnsupportedVenueError) as refused:
        load_profile("velocity").require_supported()
    message = str(refused.value)
    assert message.startswith("venue profile 'velocity' is not supported: ")
    for says in ("accounts and order instructions differ from Drift's", "wrong values",
                 "issue 14"):
        assert says in message
    drift = load_profile("drift")
    assert drift.unsupported == ""
    drift.require_supported()


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known profiles"):
        load_profile("mango")


def test_a_profile_with_a_malformed_address_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "config/venues/drift.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH", "not-base58!"))
    with pytest.raises(ValidationError):
        load_profile(path=bad)
