"""Every command is traced and a share of the reads; a read outside a recorded trace is not
instrumented on either side of a gRPC call (services/common/trace_policy.py)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider

from services.common.trace_policy import (
    SampledReads,
    is_read_method,
    trace_client_call,
    trace_server_call,
)

READS = ["/dne.feed.v1.FeedService/ListFundingMarkets", b"/dne.feed.v1.FeedService/GetClock",
         "/dne.engine.v1.EngineService/GetEngineStatus",
         "/dne.engine.v1.EngineService/StreamEvents", "/grpc.health.v1.Health/Check",
         "/grpc.health.v1.Health/Watch"]
COMMANDS = ["/dne.engine.v1.EngineService/OpenPosition", b"/dne.vault.v1.VaultService/SyncAccount",
            "/dne.vault.v1.VaultService/RecordIntent", "/dne.feed.v1.ReplayControlService/SetClock",
            # It trades when it is not a simulation.
            "/dne.engine.v1.EngineService/CheckRebalance"]


@pytest.mark.parametrize("method", READS)
def test_reads_are_named_reads(method: str | bytes) -> None:
    assert is_read_method(method)


@pytest.mark.parametrize("method", COMMANDS)
def test_commands_are_not(method: str | bytes) -> None:
    assert not is_read_method(method)


def call(method: str | bytes, metadata: tuple[tuple[str, str], ...] = ()) -> SimpleNamespace:
    return SimpleNamespace(method=method, invocation_metadata=metadata)


def test_a_client_read_is_instrumented_only_inside_a_recorded_trace() -> None:
    read = call("/dne.feed.v1.FeedService/ListFundingMarkets")
    assert not trace_client_call(read)  # a tick's poll: nothing to join
    assert trace_client_call(call(b"/dne.vault.v1.VaultService/SyncAccount"))
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("command DEPOSIT"):
        assert trace_client_call(read)
    with trace.use_span(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)):
        assert not trace_client_call(read)


def test_a_server_read_is_instrumented_only_when_a_trace_carries_it() -> None:
    traceparent = (("traceparent", "00-" + "1" * 32 + "-" + "2" * 16 + "-01"),)
    assert not trace_server_call(call("/dne.feed.v1.FeedService/ListFundingMarkets"))
    assert not trace_server_call(call(b"/dne.feed.v1.FeedService/GetClock",
                                      (("authorization", "x"),)))
    assert trace_server_call(call("/dne.feed.v1.FeedService/ListFundingMarkets", traceparent))
    assert trace_server_call(call("/dne.engine.v1.EngineService/OpenPosition"))


async def instrumented_share(gate: SampledReads, scope: dict[str, object], count: int) -> float:
    """The share of `count` requests that reached the app with HTTP instrumentation on."""
    seen: list[bool] = []

    async def app(_scope: object, _receive: object, _send: object) -> None:
        seen.append(is_http_instrumentation_enabled())

    gate.app = app
    for _ in range(count):
        await gate(scope, None, None)  # type: ignore[arg-type]
    return sum(seen) / count


def http(method: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> dict[str, object]:
    return {"type": "http", "method": method, "path": "/api/drift/markets", "headers": headers}


async def test_a_tenth_of_the_reads_reach_the_instrumentation_at_a_ratio_of_a_tenth() -> None:
    random.seed(7)
    share = await instrumented_share(SampledReads(None, 0.1), http("GET"), 20_000)  # type: ignore[arg-type]
    assert 0.085 <= share <= 0.115


async def test_commands_websockets_and_traced_reads_always_reach_it() -> None:
    none_of_the_reads = SampledReads(None, 0.0)  # type: ignore[arg-type]
    assert await instrumented_share(none_of_the_reads, http("GET"), 50) == 0
    assert await instrumented_share(none_of_the_reads, http("POST"), 50) == 1
    assert await instrumented_share(none_of_the_reads, {"type": "websocket", "path": "/ws"},
                                    50) == 1
    carried = http("GET", ((b"traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),))
    assert await instrumented_share(none_of_the_reads, carried, 50) == 1
