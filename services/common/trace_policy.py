"""Which calls are traced: every command, and a share of the reads.

A command (an order, a deposit, a sync, any write) is always traced: it is what an operator
follows across the services. A read at the edge (an HTTP GET) starts a trace for a share of its
requests (TRACE_READ_RATIO: `SampledReads`), and a read made inside a trace is traced with it.
A read outside any recorded trace (a tick's poll, a sampled-out GET's call to the feed, an
automation client's poll) is not instrumented at all, on either side of its gRPC call.
Recording every markets read cost half the gateway's throughput; spans started for nobody,
non-recording, still cost a fifth of it (issue 12): so a read left out skips the
instrumentation, rather than being sampled out inside it."""

from __future__ import annotations

import random

from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from starlette.types import ASGIApp, Receive, Scope, Send

READ_METHOD_PREFIXES = ("Get", "List", "Stream")
# Not a prefix: the engine's CheckRebalance trades when it is not a simulation.
HEALTH_METHODS = ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch")
READ_HTTP_METHODS = ("GET", "HEAD", "OPTIONS")
TRACE_CONTEXT_HEADER = "traceparent"
_TRACE_CONTEXT_HEADER_BYTES = TRACE_CONTEXT_HEADER.encode()  # as ASGI carries header names


def is_read_method(method: str | bytes) -> bool:
    """A gRPC method ("/dne.feed.v1.FeedService/ListFundingMarkets") that only reads."""
    name = method.decode() if isinstance(method, bytes) else method
    return name in HEALTH_METHODS or name.rsplit("/", 1)[-1].startswith(READ_METHOD_PREFIXES)


def trace_client_call(details: object) -> bool:
    """The gRPC client interceptor's filter: a read is instrumented only inside a recorded
    trace; a command always (it may start its own trace)."""
    if trace.get_current_span().is_recording():
        return True
    return not is_read_method(getattr(details, "method", ""))


def trace_server_call(details: object) -> bool:
    """The gRPC server interceptor's filter: a call that carries a trace follows it; a read
    that carries none is not instrumented; any other call is (it starts a trace)."""
    metadata = getattr(details, "invocation_metadata", None) or ()
    if any(key == TRACE_CONTEXT_HEADER for key, _ in metadata):
        return True
    return not is_read_method(getattr(details, "method", ""))


class SampledReads:
    """ASGI, in front of the HTTP instrumentation: a read that carries no trace is traced for
    `ratio` of the requests and passes the instrumentation by, suppressed, for the rest.
    Commands, WebSockets and requests that carry a trace are always traced."""

    def __init__(self, app: ASGIApp, ratio: float) -> None:
        self.app = app
        self.ratio = ratio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._left_out(scope):
            with suppress_http_instrumentation():
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _left_out(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") not in READ_HTTP_METHODS:
            return False
        if any(name == _TRACE_CONTEXT_HEADER_BYTES for name, _ in scope.get("headers", ())):
            return False
        return random.random() >= self.ratio  # noqa: S311 (a sample, not a secret)
