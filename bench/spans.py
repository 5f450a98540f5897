"""An OTLP/gRPC trace receiver in the bench process that keeps each span's start and end, so a
trade's time splits into its hops (the engine's calls to the feed, executor and vault)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

_SERVER, _CLIENT = 2, 3   # OTLP SpanKind


@dataclass(frozen=True)
class TimedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    start_ns: int
    end_ns: int

    @property
    def ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass
class TimedSpans(trace_service_pb2_grpc.TraceServiceServicer):
    spans: list[TimedSpan] = field(default_factory=list)

    async def Export(self, request, context):  # type: ignore[no-untyped-def]
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope in resource_spans.scope_spans:
                self.spans.extend(
                    TimedSpan(service, span.name, span.kind, span.trace_id.hex(),
                              span.span_id.hex(), span.parent_span_id.hex(),
                              span.start_time_unix_nano, span.end_time_unix_nano)
                    for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@asynccontextmanager
async def span_receiver() -> AsyncIterator[tuple[TimedSpans, str]]:
    """The store and the endpoint to put in OTEL_EXPORTER_OTLP_ENDPOINT."""
    store = TimedSpans()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(store, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield store, f"http://127.0.0.1:{port}"
    finally:
        await server.stop(0)


def hop_shares(store: TimedSpans, root_name: str) -> tuple[list[float], dict[str, float]]:
    """Durations (ms) of the engine's server spans named `root_name`, and the mean ms per
    trade the engine spent in each outgoing call by name (its client spans in the same trace,
    e.g. the call to the executor); what they do not cover is the engine's own time."""
    roots = [s for s in store.spans if s.service == "dne-engine" and s.name == root_name
             and s.kind == _SERVER]
    calls: dict[str, float] = {}
    for root in roots:
        for span in store.spans:
            if (span.trace_id == root.trace_id and span.service == "dne-engine"
                    and span.kind == _CLIENT and root.start_ns <= span.start_ns <= root.end_ns):
                calls[span.name] = calls.get(span.name, 0.0) + span.ms
    count = max(1, len(roots))
    return [r.ms for r in roots], {name: total / count for name, total in calls.items()}
