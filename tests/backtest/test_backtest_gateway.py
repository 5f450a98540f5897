"""POST /api/backtest through the real gateway and engine: JSON lines of progress then the
report; refusals as JSON errors with their code; a dropped request stops the engine's worker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.backtest.test_backtest_service import workers
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import auth_headers
from tests.kit.system import RunningSystem, running_system

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var = tmp_path_factory.mktemp("backtest-gateway")
    async with running_system(var, sqlite_url(var), gateway=True) as running:
        yield running


def url(system: RunningSystem) -> str:
    return f"http://{system.system.address('gateway')}/api/backtest"


async def post(system: RunningSystem, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(url(system), json=body,
                                     headers=auth_headers() if headers is None else headers)
        if response.headers.get("content-type", "").startswith("application/x-ndjson"):
            return response.status_code, [json.loads(line) for line in response.text.splitlines()]
        return response.status_code, [response.json()]


@pytest.mark.asyncio(loop_scope="module")
async def test_a_backtest_streams_progress_lines_then_the_report(system: RunningSystem) -> None:
    status, lines = await post(system, {"strategy": "hold", "start": "2026-02-01",
                                        "end": "2026-02-04", "market": "BTC-PERP",
                                        "size": "0.1", "capital": "20000"})
    assert status == 200
    assert {line["type"] for line in lines[:-1]} == {"progress"}
    assert lines[-2]["hours_done"] == lines[-2]["hours_total"] == 72
    assert lines[-1]["type"] == "result" and len(lines[-1]["report"]["ledger"]) == 72


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("body, status, code", [
    ({"strategy": "hold", "start": "2025-01-01", "end": "2025-02-01"}, 400, "INVALID_ARGUMENT"),
    ({"strategy": "hold", "start": "2026-02-01", "end": "2026-02-02", "market": "BTC-PERP",
      "size": "5", "capital": "1000"}, 409, "FAILED_PRECONDITION"),
    ({"strategy": "nope", "start": "2026-02-01", "end": "2026-02-02"}, 422, None),
    ({"strategy": "hold", "start": "2026-02-01", "end": "2026-02-02", "size": "1" * 40},
     422, None),
])
async def test_refusals_are_json_errors_with_their_code(system: RunningSystem,
                                                        body: dict[str, Any], status: int,
                                                        code: str | None) -> None:
    answered, lines = await post(system, body)
    assert answered == status
    error = lines[0]["error"]
    assert error["message"] and (code is None or error["code"] == code)


@pytest.mark.asyncio(loop_scope="module")
async def test_without_the_token_the_backtest_is_refused(system: RunningSystem) -> None:
    status, lines = await post(system, {"start": "2026-02-01", "end": "2026-02-02"}, headers={})
    assert status == 401 and lines[0]["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.asyncio(loop_scope="module")
async def test_dropping_the_request_stops_the_engine_s_worker(system: RunningSystem) -> None:
    body = {"strategy": "rotate", "start": "2026-01-10", "end": "2026-03-24",
            "capital": "20000", "include_held_rates": True, "random_walk": True}
    async with httpx.AsyncClient(timeout=60) as client, client.stream(
            "POST", url(system), json=body, headers=auth_headers()) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            assert json.loads(line)["type"] == "progress"
            assert workers()
            break
    for _ in range(50):
        if not workers():
            break
        await asyncio.sleep(0.1)
    assert workers() == []
