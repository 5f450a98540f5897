"""OpenTelemetry set-up: a tracer provider per process when spans are exported, else none."""

from __future__ import annotations

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.common.trace_policy import trace_client_call, trace_server_call

# Span attribute names, defined once. Never a secret: no key, no token, no signature of a key.
ATTR_ACTION = "dne.command.action"
ATTR_REQUEST_ID = "dne.command.request_id"
ATTR_MARKET = "dne.market"
ATTR_SIDE = "dne.side"
ATTR_SIZE = "dne.size"
ATTR_GATE_DECISION = "dne.gate.decision"      # "approved" or "denied"
ATTR_GATE_CODE = "dne.gate.code"              # the denial's error code
ATTR_ORDER_STATUS = "dne.order.status"
ATTR_TX_SIGNATURE = "dne.tx.signature"
ATTR_RESULT_OK = "dne.result.ok"
ATTR_ERROR_CODE = "dne.error.code"

_configured = False  # setup_tracing ran in this process


def setup_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider | None:
    """Installs a tracer provider when spans have somewhere to go (an OTLP endpoint); once per
    process, the first call deciding. Which calls it traces: services/common/trace_policy.py.

    Without an endpoint nothing is installed: OpenTelemetry's API answers non-recording spans
    and no interceptor joins a call. Spans nobody exports used to cost about 0.2 ms on each
    side of every gRPC call (issue 12)."""
    global _configured
    if _configured:
        provider = trace.get_tracer_provider()
        return provider if isinstance(provider, TracerProvider) else None
    _configured = True
    if not otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": f"dne-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def tracing() -> bool:
    """Whether spans are recorded and exported: interceptors and instrumentation join only then."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [aio_server_interceptor(filter_=trace_server_call)] if tracing() else []


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return list(aio_client_interceptors(filter_=trace_client_call)) if tracing() else []


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
