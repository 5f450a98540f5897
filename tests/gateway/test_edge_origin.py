"""Only the dashboard's own pages (or configured origins) open the WebSocket, and the gateway
answers only to the host names it is configured for: a page on another site, even one whose
DNS was rebound to the gateway's address, gets nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.gateway.test_health_cache import TOKEN, CountingBackends

OWN = "http://127.0.0.1:8000"


@contextmanager
def gateway(**settings: Any) -> Iterator[TestClient]:
    app = create_app(GatewaySettings(DNE_API_TOKEN=TOKEN, **settings),
                     CountingBackends())  # type: ignore[arg-type]
    with TestClient(app, base_url=OWN) as client:
        yield client


def first_message(client: TestClient, **headers: str) -> dict[str, Any]:
    # The test client's WebSocket names the host "testserver" unless told otherwise.
    headers = {"host": OWN.removeprefix("http://"), **headers}
    with client.websocket_connect(f"/ws?token={TOKEN}", headers=headers) as socket:
        return socket.receive_json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("origin", [OWN, "https://127.0.0.1:8000"])
def test_the_dashboards_own_origin_opens_the_websocket(origin):
    with gateway() as client:
        assert first_message(client, origin=origin)["type"] == "ENGINE_STATUS"


def test_a_client_without_origin_like_the_cli_opens_the_websocket():
    with gateway() as client:
        assert first_message(client)["type"] == "ENGINE_STATUS"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:9999",
                                    "http://localhost:8000", "null"])
def test_a_foreign_origin_is_refused_403_on_the_upgrade(origin):
    with gateway() as client, pytest.raises(WebSocketDenialResponse) as refused:
        first_message(client, origin=origin)
    assert refused.value.status_code == 403
    assert refused.value.json()["error"]["code"] == "UNAUTHORIZED"
    assert "origin" in refused.value.json()["error"]["message"]


def test_a_configured_origin_opens_the_websocket():
    with gateway(ALLOWED_ORIGINS="https://dne.example.com/, https://ops.example.com") as client:
        assert first_message(client, origin="https://dne.example.com")["type"] == "ENGINE_STATUS"
        with pytest.raises(WebSocketDenialResponse):
            first_message(client, origin="https://other.example.com")


def test_a_dns_rebinding_request_naming_another_host_is_refused():
    with gateway() as client:
        page = client.get("/", headers={"host": "evil.example"})
        status = client.get("/api/status", headers={"host": "evil.example:8000",
                                                    "authorization": f"Bearer {TOKEN}"})
        with pytest.raises(WebSocketDenialResponse) as refused:
            first_message(client, host="evil.example:8000", origin="http://evil.example:8000")
    assert page.status_code == 400 and status.status_code == 400
    assert "Delta Neutral" not in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert refused.value.status_code == 400


def test_a_refused_host_answers_the_json_error_body_with_the_security_headers():
    with gateway() as client:
        reply = client.get("/api/config", headers={"host": "evil.example"})
        with pytest.raises(WebSocketDenialResponse) as refused:
            first_message(client, host="evil.example:8000")
    assert reply.status_code == 400
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"]["code"] == "INVALID_HOST"
    assert "ALLOWED_HOSTS" in reply.json()["error"]["message"]
    assert reply.headers["Content-Security-Policy"] and reply.headers["X-Frame-Options"] == "DENY"
    assert refused.value.json()["error"]["code"] == "INVALID_HOST"


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "localhost"])
def test_the_default_host_names_are_answered(host):
    with gateway() as client:
        assert client.get("/api/config", headers={"host": host}).status_code == 200


def test_configured_host_names_and_the_bind_address_are_answered():
    with gateway(ALLOWED_HOSTS="dne.example.com,*.dne.internal", GATEWAY_HOST="10.1.2.3") as client:
        for host in ("dne.example.com", "gw.dne.internal:8000", "10.1.2.3:8000"):
            assert client.get("/api/config", headers={"host": host}).status_code == 200, host
        assert client.get("/api/config", headers={"host": "localhost"}).status_code == 400


def test_the_token_as_a_subprotocol_opens_the_websocket_and_is_not_echoed():
    with gateway() as client, client.websocket_connect(
            "/ws", headers={"host": OWN.removeprefix("http://"), "origin": OWN},
            subprotocols=["dne.v1", f"dne.token.{TOKEN}"]) as socket:
        assert socket.accepted_subprotocol == "dne.v1"
        assert socket.receive_json()["type"] == "ENGINE_STATUS"


def test_a_wrong_token_as_a_subprotocol_is_refused_with_4401():
    with gateway() as client, client.websocket_connect(
            "/ws", headers={"host": OWN.removeprefix("http://")},
            subprotocols=["dne.v1", "dne.token.wrong-token-0123456789"]) as socket:
        assert socket.receive_json()["payload"]["code"] == "UNAUTHORIZED"
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4401


def test_the_token_in_the_query_string_still_works_for_scripts():
    with gateway() as client:
        assert first_message(client)["type"] == "ENGINE_STATUS"
