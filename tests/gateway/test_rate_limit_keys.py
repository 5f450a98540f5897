"""Who a rate limit counts: the peer, unless it is a trusted proxy (TRUSTED_PROXIES), whose
X-Forwarded-For then names the client; a caller with the token on its own budget, which
callers without it cannot use up; position operations on the account's, from any connection."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from dne.engine.v1 import engine_pb2
from services.gateway.app import create_app
from services.gateway.dispatch import CommandDispatcher
from services.gateway.rate_limits import RateLimits
from services.gateway.request_ids import RequestIds
from services.gateway.settings import GatewaySettings
from tests.gateway.test_health_cache import TOKEN, CountingBackends

INGRESS = "10.0.3.7"
OUTSIDER = "198.51.100.9"


def gateway_from(peer: str, **settings: Any) -> httpx.AsyncClient:
    """A gateway whose every request arrives from `peer`, two market requests a minute."""
    app = create_app(GatewaySettings(DNE_API_TOKEN=TOKEN, RATE_LIMIT_MARKETS="2/minute",
                                     **settings), CountingBackends())  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def markets(client: httpx.AsyncClient, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return (await client.get("/api/drift/markets", headers=headers)).status_code


@pytest.mark.parametrize("trusted", ["", "10.0.0.0/16"], ids=["no proxies", "other proxies"])
async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_key(trusted):
    async with gateway_from(OUTSIDER, TRUSTED_PROXIES=trusted) as client:
        codes = [await markets(client, f"203.0.113.{index}") for index in range(3)]
    assert codes == [200, 200, 429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit():
    async with gateway_from(INGRESS, TRUSTED_PROXIES="10.0.0.0/16, 192.0.2.1") as client:
        first = [await markets(client, "203.0.113.1") for _ in range(3)]
        second = [await markets(client, "203.0.113.2") for _ in range(3)]
    assert first == [200, 200, 429] and second == [200, 200, 429]


async def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_address():
    # The client may write anything left of what the ingress appends; only the ingress's
    # entry (and proxies it trusts) counts.
    async with gateway_from(INGRESS, TRUSTED_PROXIES="10.0.0.0/16") as client:
        codes = [await markets(client, f"1.2.3.{index}, 203.0.113.5, 10.0.9.9")
                 for index in range(3)]
        another = await markets(client, "1.2.3.0, 203.0.113.6, 10.0.9.9")
    assert codes == [200, 200, 429] and another == 200


async def test_callers_without_the_token_cannot_use_up_the_users_budget():
    async with gateway_from(INGRESS, RATE_LIMIT_API="3/minute") as client:
        anonymous = [(await client.get("/api/config")).status_code for _ in range(4)]
        signed_in = await client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        wrong = await client.get("/api/config", headers={"Authorization": "Bearer wrong-token-1"})
    assert anonymous == [200, 200, 200, 429]
    assert signed_in.status_code == 200
    assert wrong.status_code == 429   # a wrong token is counted by address


@pytest.mark.parametrize("value", ["*", "ingress.internal", "10.0.0.0/33"])
def test_trusted_proxies_take_addresses_and_networks_only(value):
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        GatewaySettings(DNE_API_TOKEN=TOKEN, TRUSTED_PROXIES=value)
    settings = GatewaySettings(DNE_API_TOKEN=TOKEN, TRUSTED_PROXIES=" 10.0.0.0/8, ::1 ,")
    assert settings.trusted_proxy_networks == ["10.0.0.0/8", "::1"]


async def test_position_operations_from_any_connection_share_the_accounts_budget():
    async def settle(request: Any, **options: Any) -> engine_pb2.SettlePnlResponse:
        return engine_pb2.SettlePnlResponse(result=engine_pb2.CommandResult(
            request_id=request.request_id, action="DRIFT_SETTLE_PNL", ok=True))

    settings = GatewaySettings(DNE_API_TOKEN=TOKEN, RATE_LIMIT_POSITION_OPS="2/minute")
    dispatcher = CommandDispatcher(
        SimpleNamespace(SettlePnl=settle), None, RateLimits(settings),  # type: ignore[arg-type]
        RequestIds(TOKEN), timeout=1, max_frame_bytes=settings.ws_max_frame_bytes)
    replies = [await dispatcher.handle(json.dumps({
        "action": "DRIFT_SETTLE_PNL", "id": f"settle-{number}",
        "payload": {"market": "SOL-PERP"}}), connection_id=f"connection-{number}")
        for number in range(3)]
    outcomes = [reply["payload"]["ok"] for reply in replies]
    assert outcomes == [True, True, False]
    assert replies[2]["payload"]["error"]["code"] == "RATE_LIMITED"
