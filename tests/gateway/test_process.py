"""python -m services.gateway as a process: start-up lines, the token, placeholder page, SIGTERM."""

from __future__ import annotations

import asyncio
import re
import sys

import httpx
import pytest

from services.launcher.processes import ServiceProcess
from tests.kit.ports import free_port

pytestmark = pytest.mark.integration
DASHBOARD_LINE = re.compile(r"^dashboard: http://127\.0\.0\.1:(\d+)/\?token=(\S+)$", re.MULTILINE)


def nowhere() -> str:
    return f"127.0.0.1:{free_port()}"   # nothing listens there


def alone_env(**extra: str) -> dict[str, str]:
    """A gateway with every backend unreachable."""
    return {"PORT": "0", "FEED_ADDRESS": nowhere(), "ENGINE_ADDRESS": nowhere(),
            "LOG_FORMAT": "text", "DNE_API_TOKEN": "", **extra}


async def test_without_a_token_one_is_generated_printed_once_and_required(tmp_path):
    env = alone_env()
    del env["DNE_API_TOKEN"]
    process = ServiceProcess("gateway", env, tmp_path / "gateway.log", readiness="http")
    address = await process.start()
    try:
        await asyncio.sleep(0.2)  # the dashboard line follows the address line
        log = process.log_path.read_text()
        match = DASHBOARD_LINE.search(log)
        assert match and f"127.0.0.1:{match.group(1)}" == address
        token = match.group(2)
        assert len(token) >= 16
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as client:
            refused = await client.get("/api/status")
            page = await client.get(f"/?token={token}")
            status = await client.get("/api/status",
                                      headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert page.status_code == 200
        assert status.status_code == 503   # authorized; the engine is not there
        assert status.json()["error"]["code"] == "ENGINE_UNAVAILABLE"
    finally:
        assert await process.stop() == 0
    log = process.log_path.read_text()
    assert log.count(token) == 1, "the token appears only in the dashboard line"


async def test_with_no_backend_everything_answers_503_quickly_and_sigterm_stops_it(tmp_path):
    env = alone_env(DNE_API_TOKEN="a-long-enough-token-123",
                    FRONTEND_DIR=str(tmp_path / "no-frontend"))
    process = ServiceProcess("gateway", env, tmp_path / "gateway.log", readiness="http")
    address = await process.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10) as client:
            markets = await client.get("/api/drift/markets")
            health = await client.get("/health")
            page = await client.get("/")
        assert markets.status_code == 503
        assert markets.json()["error"]["code"] == "FEED_UNAVAILABLE"
        assert markets.elapsed.total_seconds() < 3
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        assert page.status_code == 200 and "dashboard" in page.text
    finally:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await process.stop() == 0
        assert loop.time() - started < 5


async def test_a_short_token_refuses_to_start_without_printing_it(tmp_path):
    env = alone_env(DNE_API_TOKEN="short-secret")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.gateway", env={**__import__("os").environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 2
    assert b"DNE_API_TOKEN must be at least 16 characters" in err
    assert b"short-secret" not in out + err
