"""python -m services.gateway: bind, announce the address and the dashboard URL, serve.

A token the gateway made for this run appears in exactly one place: the dashboard line printed
at start (the way Jupyter prints its URL). A token the user set (DNE_API_TOKEN) is never
printed: the user has it. Every log line goes through a filter that blanks it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn
from pydantic import ValidationError
from starlette.types import ASGIApp

from services.common.heap import freeze_startup_heap
from services.common.logs import configure_logging
from services.common.telemetry import setup_tracing, shutdown_tracing
from services.gateway.app import create_app
from services.gateway.clients import BackendClients
from services.gateway.settings import GatewaySettings

# Frames over 16 KiB are answered INVALID_MESSAGE; beyond this the server closes with 1009.
WS_MAX_MESSAGE_BYTES = 1024 * 1024
SEND_BUFFER_BYTES = 64 * 1024
_TOKEN_PARAM = re.compile(r"(token=)[^&\s\"']+")


class RedactToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message or self._token in message:
            record.msg = _TOKEN_PARAM.sub(r"\1[REDACTED]", message).replace(
                self._token, "[REDACTED]")
            record.args = ()
        return True


class GatewayServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown (exit status -15); a requested
    stop is a clean exit here, status 0, like every other service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _request_stop(self, sig: int) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True   # a second Ctrl-C: do not wait for connections
        self.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets that say TCP, and
    # without it every answer's second write waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit a bounded send buffer: a browser that stops reading backs
    # up into its own queue within a few hundred messages (and is dropped), instead of into
    # megabytes of kernel memory that hide it for minutes.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def dashboard_line(settings: GatewaySettings, host: str, port: int) -> str:
    if settings.token_generated:
        return f"dashboard: http://{host}:{port}/?token={settings.api_token}"
    return f"dashboard: http://{host}:{port}/?token=<DNE_API_TOKEN>"


def server_config(app: ASGIApp) -> uvicorn.Config:
    # HTTP/1.1 is parsed by httptools (llhttp), never by h11: driftpy pins h11 0.14.0, which
    # accepts malformed chunked bodies (CVE-2025-43859), and uvicorn's "auto" would fall back
    # to it silently were httptools missing. Here a missing httptools fails the start instead.
    return uvicorn.Config(
        app, http="httptools", log_config=None, lifespan="on", server_header=False,
        proxy_headers=False, ws_max_size=WS_MAX_MESSAGE_BYTES, timeout_graceful_shutdown=5,
        # No permessage-deflate: a compressor and a decompressor per browser doubled the
        # memory of each connection (86 -> 42 KB; 1000 browsers: RSS 157 -> 113 MB), for
        # frames of a few KB on a dashboard.
        ws_per_message_deflate=False,
    )


async def serve(settings: GatewaySettings) -> None:
    setup_tracing("gateway", settings.otel_exporter_otlp_endpoint)
    clients = BackendClients.connect(settings)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    config = server_config(create_app(settings, clients))
    freeze_startup_heap()
    print(f"gateway listening on {host}:{port}", flush=True)
    print(dashboard_line(settings, host, port), flush=True)
    try:
        await GatewayServer(config).serve(sockets=[sock])
    finally:
        sock.close()
        await clients.close()
        shutdown_tracing()


def main() -> int:
    try:
        settings = GatewaySettings()
    except ValidationError as error:  # hide_input_in_errors: the token is never printed
        print(f"gateway: invalid settings:\n{error}", file=sys.stderr, flush=True)
        return 2
    configure_logging("gateway", settings.log_level, settings.log_format)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(settings.api_token))
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
