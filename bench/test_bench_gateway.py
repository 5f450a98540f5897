"""The browser's side: REST and WebSocket latencies through the real gateway and services,
against design.md's targets (API p95 < 500 ms, command answer well inside 5 s, broadcast of a
position change within 1 s)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.test_bench_commands import report
from tests.integration.flow import pause_clock_at
from tests.kit.databases import sqlite_url
from tests.kit.gateway_client import browser
from tests.kit.system import running_system

ROUNDS = 40
GATEWAY_ENV = {"RATE_LIMIT_MARKETS": "100000/minute", "RATE_LIMIT_POSITION_OPS": "100000/minute",
               "RATE_LIMIT_WS_COMMANDS": "1000/second"}


async def test_gateway_rest_and_websocket_latency(tmp_path: Path) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True,
                              gateway_env=GATEWAY_ENV) as running:
        await pause_clock_at(running.stubs, datetime(2026, 1, 15, 12, tzinfo=UTC))
        rest: list[float] = []
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(ROUNDS):
                started = time.perf_counter()
                reply = await http.get(f"{running.gateway_url}/api/drift/markets")
                rest.append((time.perf_counter() - started) * 1000)
                assert reply.status_code == 200
        commands: list[float] = []
        broadcasts: list[float] = []
        async with browser(running) as page:
            assert (await page.command("START_ENGINE", {"mode": "paper"}))["payload"]["ok"]
            assert (await page.command("DRIFT_DEPOSIT", {"amount": "5000"}))["payload"]["ok"]
            for index in range(ROUNDS // 2):
                for action, payload in (
                    ("DRIFT_OPEN_POSITION", {"market": "BTC-PERP", "direction": "short",
                                             "size": "0.0005"}),
                    ("DRIFT_CLOSE_POSITION", {"market": "BTC-PERP"}),
                ):
                    mark = len(page.messages)
                    started = time.perf_counter()
                    result = await page.command(action, payload)
                    answered = time.perf_counter()
                    commands.append((answered - started) * 1000)
                    assert result["payload"]["ok"], (index, result)
                    arrival, _ = await page.wait_for(
                        lambda m: m["type"] == "FUNDING_UPDATE", after=mark, timeout=5)
                    broadcasts.append(max(0.0, (arrival - started) * 1000))
    print()
    rest_summary = report("gateway GET /api/drift/markets", rest)
    command_summary = report("WebSocket command -> COMMAND_RESULT", commands)
    broadcast_summary = report("command -> FUNDING_UPDATE", broadcasts)
    assert rest_summary["p95"] < 500
    assert command_summary["p95"] < 5000
    assert broadcast_summary["p95"] < 1000
