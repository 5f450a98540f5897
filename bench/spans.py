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


def covered_ns(intervals: list[tuple[int, int]]) -> int:
    """Nanoseconds inside at least one interval: calls made side by side count once."""
    covered, reach = 0, 0
    for start, end in sorted(intervals):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


@dataclass(frozen=True)
class Hops:
    totals_ms: list[float]          # each traced call's server span
    calls_ms: dict[str, float]      # mean ms per call spent in each outgoing call, by name
    waiting_ms: float               # mean ms per call with at least one outgoing call open

    @property
    def own_ms(self) -> float:
        """The engine's own time: its server span minus the time it waited on others."""
        return sum(self.totals_ms) / len(self.totals_ms) - self.waiting_ms


def hops(store: TimedSpans, root_name: str) -> Hops | None:
    """The engine's server spans named `root_name` split by its outgoing calls (its client
    spans in the same trace, e.g. to the executor); None when no such span arrived."""
    roots = [s for s in store.spans if s.service == "dne-engine" and s.name == root_name
             and s.kind == _SERVER]
    if not roots:
        return None
    calls: dict[str, float] = {}
    waiting = 0
    for root in roots:
        inside = [span for span in store.spans
                  if span.trace_id == root.trace_id and span.service == "dne-engine"
                  and span.kind == _CLIENT and root.start_ns <= span.start_ns <= root.end_ns]
        for span in inside:
            calls[span.name] = calls.get(span.name, 0.0) + span.ms
        waiting += covered_ns([(span.start_ns, span.end_ns) for span in inside])
    return Hops([root.ms for root in roots],
                {name: total / len(roots) for name, total in calls.items()},
                waiting / len(roots) / 1e6)
