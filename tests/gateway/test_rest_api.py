"""REST endpoints of the real gateway in front of the real services (docs/protocol.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import websockets

from dne.feed.v1 import feed_pb2
from services.common.timeutil import to_timestamp
from tests.gateway.conftest import UNLIMITED
from tests.kit.gateway_client import auth_headers, browser, ws_url
from tests.kit.system import RunningSystem

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
GATEWAY_ENV = UNLIMITED

MARKET_FIELDS = {
    "symbol", "market_index", "rate_1h", "rate_8h", "apr", "direction", "open_interest",
    "volume_24h", "oracle_price", "mark_price", "status", "tradable", "not_tradable_reason",
    "rate_source", "rate_period_start", "contract_tier",
}


def assert_error_body(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)


async def get(system: RunningSystem, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        return await client.get(path, **kwargs)


async def test_markets_are_listed_highest_apr_first_with_every_documented_field(system):
    reply = await get(system, "/api/drift/markets")
    assert reply.status_code == 200
    body = reply.json()
    aprs = [market["apr"] for market in body["markets"]]
    assert aprs == sorted(aprs, reverse=True) and len(aprs) >= 2
    assert all(set(market) == MARKET_FIELDS for market in body["markets"])
    assert all(market["tradable"] or market["not_tradable_reason"] for market in body["markets"])
    sol = next(market for market in body["markets"] if market["symbol"] == "SOL-PERP")
    assert isinstance(sol["rate_1h"], float) and isinstance(sol["oracle_price"], float)
    assert sol["direction"] in ("shorts", "longs")
    assert set(body["stats"]) == {"total_oi", "volume_24h", "avg_funding", "avg_apr",
                                  "market_count"}
    assert body["source"] == "replay" and body["stale"] is False
    assert body["as_of"].endswith("Z")


async def test_prediction_and_settled_markets_are_listed_only_when_asked(system):
    perpetuals = (await get(system, "/api/drift/markets")).json()["markets"]
    everything = (await get(system, "/api/drift/markets",
                            params={"include_untradable": "true"})).json()["markets"]
    assert len(everything) > len(perpetuals)
    untradable = [market for market in everything if not market["tradable"]]
    assert untradable and all(market["not_tradable_reason"] for market in untradable)


async def test_funding_history_covers_the_hours_before_the_market_clock(system):
    moment = datetime(2026, 1, 13, 12, tzinfo=UTC)
    await system.stubs.replay.SetClock(feed_pb2.SetClockRequest(
        now=to_timestamp(moment), paused=True, set_paused=True))
    reply = await get(system, "/api/drift/markets/SOL-PERP/funding", params={"hours": 24})
    assert reply.status_code == 200
    body = reply.json()
    assert body["market"] == "SOL-PERP"
    starts = [record["period_start"] for record in body["records"]]
    assert len(starts) == 24 and starts == sorted(starts)
    assert starts[-1] == "2026-01-13T11:00:00Z"
    assert all(isinstance(record["rate_1h"], float) for record in body["records"])


async def test_funding_history_of_an_unknown_market_is_404_not_found(system):
    assert_error_body(await get(system, "/api/drift/markets/NOPE-PERP/funding"), 404,
                      "NOT_FOUND")


@pytest.mark.parametrize("query", ["hours=0", "hours=2001", "hours=abc", "hours=1e3"])
async def test_funding_history_with_bad_hours_is_422_invalid_argument(system, query):
    reply = await get(system, f"/api/drift/markets/SOL-PERP/funding?{query}")
    assert_error_body(reply, 422, "INVALID_ARGUMENT")
    assert "hours" in reply.json()["error"]["message"]


async def test_config_tells_the_dashboard_mode_and_confirmation_rules(system):
    reply = await get(system, "/api/config")
    assert reply.status_code == 200
    assert reply.json() == {"mode_label": "PAPER", "venue": "Drift", "quote_symbol": "USDC",
                            "confirm_above_usd": 100,
                            "confirm_timeout_sec": 30, "hedge_market": "SOL-PERP",
                            "version": "0.1.0"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": "Basic dXNlcjpwYXNz"}])
async def test_status_without_the_right_token_is_401_unauthorized(system, headers):
    reply = await get(system, "/api/status", headers=headers)
    assert_error_body(reply, 401, "UNAUTHORIZED")
    assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert system.api_token not in reply.text


async def test_status_with_the_token_reports_the_engine(system):
    reply = await get(system, "/api/status", headers=auth_headers())
    assert reply.status_code == 200
    body = reply.json()
    assert body["engine"]["hedge_market"] == "SOL-PERP"
    assert body["engine"]["running"] is False and body["snapshot"] is None


async def test_health_is_healthy_when_every_service_serves(system):
    reply = await get(system, "/health", headers=auth_headers())
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "healthy"
    for name in ("feed", "engine", "executor", "vault"):
        assert body["engines"][name]["status"] == "SERVING"
    assert body["engines"]["venue"] == {"connected": True, "venue": "paper", "latency_ms": 0.0}


async def test_unknown_paths_and_methods_answer_the_error_body(system):
    assert_error_body(await get(system, "/api/nothing-here"), 404, "NOT_FOUND")
    async with httpx.AsyncClient(base_url=system.gateway_url) as client:
        reply = await client.post("/api/config")
    assert_error_body(reply, 405, "INVALID_ARGUMENT")


async def test_the_dashboard_page_and_its_static_files_are_served(system):
    page = await get(system, "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert_error_body(await get(system, "/static/no-such-file.js"), 404, "NOT_FOUND")
    assert_error_body(await get(system, "/static/../services/gateway/settings.py"), 404,
                      "NOT_FOUND")


async def test_metrics_count_websocket_clients_and_http_requests(system):
    assert (await get(system, "/api/config")).status_code == 200   # counted below
    async with browser(system) as client:
        await client.wait_for(lambda m: m["type"] == "ENGINE_STATUS")
        text = (await get(system, "/metrics")).text
        assert "dne_websocket_clients 1.0" in text
    assert 'dne_http_requests_total{method="GET",route="/api/config",status="200"}' in text
    assert "dne_http_request_duration_seconds_bucket" in text


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789"])
async def test_websocket_without_the_right_token_gets_an_error_then_close_4401(system, token):
    async with websockets.connect(ws_url(system, token)) as socket:
        message = await socket.recv()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert '"code":"UNAUTHORIZED"' in message and '"type":"ERROR"' in message
    assert closed.value.rcvd.code == 4401


async def test_websocket_greets_with_engine_status(system):
    async with browser(system) as client:
        _, message = await client.wait_for(lambda m: m["type"] == "ENGINE_STATUS")
    assert set(message["payload"]) == {"running", "mode", "trading_enabled", "blocked_reason",
                                       "last_rebalance", "venue", "hedge_market",
                                       "max_leverage"}


async def test_openapi_documents_the_error_responses(system):
    schema = (await get(system, "/openapi.json")).json()
    markets = schema["paths"]["/api/drift/markets"]["get"]["responses"]
    status = schema["paths"]["/api/status"]["get"]["responses"]
    assert {"200", "429", "503"} <= set(markets)
    assert {"200", "401", "503"} <= set(status)
    assert "ErrorBody" in schema["components"]["schemas"]
