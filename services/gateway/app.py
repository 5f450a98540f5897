"""create_app(settings, clients): the FastAPI application, its dependencies passed in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.telemetry import TelemetryConfig
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from services.common.telemetry import tracing
from services.common.trace_policy import SampledReads
from services.gateway.backtests import build_backtest_router
from services.gateway.clients import BackendClients
from services.gateway.dispatch import CommandDispatcher
from services.gateway.errors import CatchAllMiddleware, install_error_handlers
from services.gateway.fanout import EventFanout
from services.gateway.host_check import HostCheckMiddleware
from services.gateway.http_metrics import HttpMetricsMiddleware
from services.gateway.markets import MarketDirectory
from services.gateway.rate_limits import RateLimits
from services.gateway.request_ids import RequestIds
from services.gateway.routes import VERSION, Gateway, build_router
from services.gateway.settings import GatewaySettings
from services.gateway.static import mount_frontend
from services.gateway.websocket import serve_browser

_TOKEN_IN_QUERY = re.compile(r"(token=)[^&]*")
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target", "url.query")

# The dashboard loads only its own files (uPlot is vendored under /static): no inline script or
# style, no third-party origin. The favicon is `data:,`; the WebSocket is same-origin
# (CSP 'self' covers ws:// and wss:// to the page's own host). The page holds the API token,
# so nothing else may frame it, and no URL of it leaves in a Referer.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response: routes, static files, errors, 404s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def redact_url_attributes(span: Span, scope: dict[str, Any]) -> None:
    """The WebSocket's token travels in its query string; spans keep the URL without it."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "token=" in value:
            span.set_attribute(key, _TOKEN_IN_QUERY.sub(r"\1[REDACTED]", value))


# FastAPI's own OpenTelemetry (0.165 and later) stays off: the contrib instrumentation below
# traces, with the gateway's redaction of the token in a URL. FastAPI's would check every
# request for a provider and, were the contrib middleware ever not found in the stack, record
# the URL's query with only its own list of secret parameters masked.
WITHOUT_NATIVE_TELEMETRY: TelemetryConfig = {
    "tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def trace_requests(app: FastAPI, read_ratio: float = 1.0) -> None:
    """Spans for every WebSocket connection and command, and for `read_ratio` of the reads
    (SampledReads), when spans are exported; the command spans that the dispatcher opens
    carry the trace on into the engine through gRPC metadata. No span per ASGI send and
    receive: three spans per request (and one per WebSocket message) for nothing an operator
    reads cost most of tracing's throughput (issue 12). The bench's floor is traced by this
    same call."""
    if not tracing():
        return
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="health,metrics", server_request_hook=redact_url_attributes,
        exclude_spans=["receive", "send"])
    if read_ratio < 1:
        # In front of the instrumentation, which FastAPI builds into its middleware stack.
        instrumented = app.build_middleware_stack
        app.build_middleware_stack = lambda: SampledReads(  # type: ignore[method-assign]
            instrumented(), read_ratio)


def create_app(settings: GatewaySettings, clients: BackendClients) -> FastAPI:
    limits = RateLimits(settings)
    markets = MarketDirectory(clients.feed, timeout=settings.backend_timeout_sec,
                              cache_seconds=settings.market_cache_sec)
    request_ids = RequestIds(settings.api_token)
    fanout = EventFanout(clients.engine, request_ids=request_ids,
                         queue_size=settings.ws_queue_size,
                         status_timeout=settings.backend_timeout_sec)
    dispatcher = CommandDispatcher(clients.engine, markets, limits, request_ids,
                                   timeout=settings.command_timeout_sec,
                                   max_frame_bytes=settings.ws_max_frame_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        fanout.start()
        try:
            yield
        finally:
            await fanout.stop()

    app = FastAPI(
        title="Delta Neutral Engine gateway", version=VERSION, lifespan=lifespan,
        description="REST and WebSocket API of the dashboard; see docs/protocol.md.",
        # Swagger UI and ReDoc load their scripts from a CDN into the origin that holds the
        # token; the schema itself stays at /openapi.json.
        docs_url=None, redoc_url=None, telemetry=WITHOUT_NATIVE_TELEMETRY,
    )
    trace_requests(app, settings.trace_read_ratio)
    app.state.gateway = Gateway(settings, clients, limits, markets, fanout)
    app.state.fanout = fanout
    install_error_handlers(app)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(HttpMetricsMiddleware)
    # A page of another origin that a rebinding DNS points at this gateway names its own host.
    app.add_middleware(HostCheckMiddleware, allowed_hosts=settings.trusted_hosts)
    if settings.trusted_proxy_networks:
        # The client behind the ingress, for the rate limits (uvicorn's own parsing).
        app.add_middleware(ProxyHeadersMiddleware,
                           trusted_hosts=settings.trusted_proxy_networks)
    # Outermost: even the answers of CatchAllMiddleware and of the host check carry the headers.
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(build_router())
    app.include_router(build_backtest_router())

    @app.websocket("/ws")
    async def websocket(socket: WebSocket) -> None:
        await serve_browser(socket, token=settings.api_token, fanout=fanout,
                            dispatcher=dispatcher, origins=settings.trusted_origins)

    mount_frontend(app, settings.frontend_dir)
    return app
