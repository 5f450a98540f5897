"""Every HTTP answer carries the security headers, whatever route family answers it; the
CDN-loading API pages are gone, the schema stays."""

from __future__ import annotations

import pytest

from services.gateway.app import CONTENT_SECURITY_POLICY
from tests.gateway.test_health_cache import TOKEN, CountingBackends, gateway_app

ROUTES = [
    ("GET", "/", {}),                                        # the dashboard
    ("GET", "/static/js/app.js", {}),                        # static files
    ("GET", "/static/nothing-here.js", {}),                  # a static 404
    ("GET", "/api/config", {}),                              # public API
    ("GET", "/api/drift/markets", {}),                       # public API, backend call
    ("GET", "/api/status", {}),                              # 401 without the token
    ("GET", "/api/drift/markets/!!/funding", {}),            # 422
    ("POST", "/api/config", {}),                             # 405
    ("GET", "/health", {}),
    ("GET", "/health", {"Authorization": f"Bearer {TOKEN}"}),
    ("GET", "/metrics", {}),
    ("GET", "/openapi.json", {}),
    ("GET", "/no/such/page", {}),                            # 404
]


@pytest.mark.parametrize(("method", "path", "headers"), ROUTES)
async def test_every_answer_carries_the_security_headers(method, path, headers):
    async with gateway_app(CountingBackends()) as client:
        reply = await client.request(method, path, headers=headers)
    assert reply.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Referrer-Policy"] == "no-referrer"


async def test_a_rate_limited_answer_carries_them_too():
    async with gateway_app(CountingBackends(), RATE_LIMIT_HEALTH="1/second") as client:
        await client.get("/health")
        reply = await client.get("/health")
    assert reply.status_code == 429
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_the_policy_allows_only_the_gateways_own_origin():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "http" not in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_cdn_loading_api_pages_are_gone(path):
    async with gateway_app(CountingBackends()) as client:
        reply = await client.get(path)
    assert reply.status_code == 404
    assert "cdn" not in reply.text.lower()


async def test_the_openapi_schema_is_still_served():
    async with gateway_app(CountingBackends()) as client:
        reply = await client.get("/openapi.json")
    assert reply.status_code == 200
    assert "/health" in reply.json()["paths"]


async def test_the_dashboard_page_loads_no_inline_script_or_style():
    async with gateway_app(CountingBackends()) as client:
        page = (await client.get("/")).text
    assert "<style" not in page and " style=" not in page
    for tag in page.split("<script")[1:]:
        assert "src=" in tag.split(">", 1)[0] and tag.split(">", 1)[1].startswith("</script")
    assert "http://" not in page and "https://" not in page


