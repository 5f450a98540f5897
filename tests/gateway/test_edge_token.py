"""The start-up log shows the API token only when the gateway made it for this run."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.__main__ import dashboard_line
from services.gateway.settings import GatewaySettings
from services.launcher.processes import ServiceProcess
from tests.gateway.test_process import alone_env

USER_TOKEN = "a-long-enough-user-token-456"


def test_a_generated_token_is_in_the_dashboard_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("DNE_API_TOKEN", raising=False)
    settings = GatewaySettings()
    assert settings.token_generated
    line = dashboard_line(settings, "127.0.0.1", 8000)
    assert line == f"dashboard: http://127.0.0.1:8000/?token={settings.api_token}"


def test_a_token_the_user_set_is_not(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DNE_API_TOKEN", USER_TOKEN)
    settings = GatewaySettings()
    assert not settings.token_generated
    assert USER_TOKEN not in dashboard_line(settings, "127.0.0.1", 8000)


@pytest.mark.integration
async def test_the_gateway_process_never_prints_a_token_the_user_set(tmp_path):
    env = alone_env(DNE_API_TOKEN=USER_TOKEN)
    process = ServiceProcess("gateway", env, tmp_path / "gateway.log", readiness="http")
    address = await process.start()
    try:
        await asyncio.sleep(0.2)  # the dashboard line follows the address line
    finally:
        assert await process.stop() == 0
    log = process.log_path.read_text()
    assert f"dashboard: http://{address}/?token=<DNE_API_TOKEN>" in log
    assert USER_TOKEN not in log
