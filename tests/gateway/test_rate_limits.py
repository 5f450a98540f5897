"""design.md's rate limits, with the gateway's defaults: 10 market requests a minute per IP,
5 commands a second per connection, 10 position operations a minute for the account."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.kit.gateway_client import browser

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def test_the_11th_markets_request_in_a_minute_is_429_with_retry_after(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        replies = [await client.get("/api/drift/markets") for _ in range(11)]
    assert [reply.status_code for reply in replies[:10]] == [200] * 10
    limited = replies[10]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert "retry in" in limited.json()["error"]["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_the_6th_command_in_a_second_is_rate_limited_and_says_when_to_retry(system):
    async with browser(system) as client:
        await asyncio.sleep(1.1)  # a fresh window
        frames = [{"action": "PING", "id": f"fast-{index}"} for index in range(6)]
        for frame in frames:
            await client.send(frame)
        results = []
        for frame in frames:
            _, result = await client.wait_for(
                lambda m, ident=frame["id"]: m["type"] == "COMMAND_RESULT" and m["id"] == ident)
            results.append(result["payload"])
        assert [result["ok"] for result in results] == [True] * 5 + [False]
        assert results[5]["error"]["code"] == "RATE_LIMITED"
        assert "retry in" in results[5]["error"]["message"]
        assert 0 < results[5]["error"]["details"]["retry_after_seconds"] <= 1
        await asyncio.sleep(1.1)
        assert (await client.command("PING"))["payload"]["ok"]   # the connection stays usable


async def test_the_11th_position_operation_in_a_minute_is_rate_limited(system):
    async with browser(system) as client:
        results = []
        for index in range(11):
            if index % 5 == 4:
                await asyncio.sleep(1.05)   # stay under 5 commands a second
            result = await client.command("DRIFT_SETTLE_PNL", {"market": "SOL-PERP"})
            results.append(result["payload"])
    codes = [result["error"]["code"] for result in results]
    assert "RATE_LIMITED" not in codes[:10]
    assert codes[10] == "RATE_LIMITED"
    assert "position operations" in results[10]["error"]["message"]
