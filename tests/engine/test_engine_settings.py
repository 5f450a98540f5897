"""Settings: the defaults of the design, unsafe values refused at start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from tests.kit.engine_fakes import engine_settings


def test_defaults_follow_the_design() -> None:
    settings = engine_settings()
    assert settings.drift_tolerance_pct == Decimal("1.0")
    assert settings.rebalance_cooldown_sec == 1800
    assert settings.min_trade_size_sol == Decimal("0.005")
    assert settings.reserved_sol == Decimal("0.017")
    assert settings.vault_retry_delays == (1.0, 2.0, 4.0)
    assert settings.latency_limit_ms == 300
    assert settings.fee_guard_multiple == 2
    assert settings.hedge_market == "SOL-PERP"


def test_max_leverage_caps_the_mode_limit_but_never_raises_it() -> None:
    assert engine_settings().leverage_limit("paper") == 10
    assert engine_settings().leverage_limit("live") == 5
    assert engine_settings(max_leverage="3").leverage_limit("paper") == 3
    assert engine_settings(max_leverage="8").leverage_limit("live") == 5


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.engine.settings import EngineSettings

    for name, value in {"FEED_ADDRESS": "f:1", "EXECUTOR_ADDRESS": "e:1", "VAULT_ADDRESS": "v:1",
                        "DRIFT_TOLERANCE_PCT": "2.5", "VAULT_RETRY_DELAYS_SEC": "0.1,0.2"}.items():
        monkeypatch.setenv(name, value)
    settings = EngineSettings()
    assert settings.drift_tolerance_pct == Decimal("2.5")
    assert settings.vault_retry_delays == (0.1, 0.2)


@pytest.mark.parametrize("overrides", [
    {"max_leverage": "0"}, {"max_leverage": "11"}, {"max_leverage": "NaN"},
    {"drift_tolerance_pct": "0"}, {"drift_tolerance_pct": "-1"},
    {"rebalance_cooldown_sec": "-5"}, {"min_trade_size_sol": "0"}, {"reserved_sol": "-0.1"},
    {"tick_interval_sec": "0"}, {"vault_retry_delays_sec": ""},
    {"vault_retry_delays_sec": "1,x"}, {"vault_retry_delays_sec": "1,-2"},
    {"latency_limit_ms": "0"}, {"slippage_tolerance": "0.5"}, {"slippage_tolerance": "0"},
    {"fee_guard_multiple": "0.5"}, {"profit_horizon_hours": "0"}, {"confirm_above_usd": "-1"},
    {"hedge_market": "sol"}, {"feed_address": ""}, {"jito_tip_lamports": "-1"},
])
def test_unsafe_values_are_refused_at_start(overrides: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        engine_settings(**overrides)
