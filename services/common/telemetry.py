"""OpenTelemetry set-up: a tracer provider per process, OTLP export only when configured."""

from __future__ import annotations

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

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


def setup_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider:
    """Installs a tracer provider; spans leave the process only when an endpoint is set."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"dne-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    return [aio_server_interceptor()]


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    return list(aio_client_interceptors())


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
