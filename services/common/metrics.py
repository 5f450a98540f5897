"""Prometheus metric names, defined once. Every name is prefixed `dne_` and carries its unit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

RPC_REQUESTS = Counter(
    "dne_rpc_requests_total", "gRPC calls served, by method and status code.",
    ["service", "method", "code"],
)
RPC_LATENCY = Histogram(
    "dne_rpc_duration_seconds", "gRPC call latency as seen by the server.",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HEALTH_RATIO = Gauge("dne_health_ratio_percent", "Venue account health, 0-100.", ["sub_account"])
LEVERAGE = Gauge("dne_leverage_ratio", "Perp notional over collateral.", ["sub_account"])
NET_DELTA = Gauge("dne_net_delta_sol", "Spot minus reserve plus perp, in SOL.", ["sub_account"])
DRIFT_PCT = Gauge("dne_delta_drift_percent", "Net delta over hedgeable spot.", ["sub_account"])
COLLATERAL = Gauge("dne_collateral_usd", "Total collateral.", ["sub_account"])
FUNDING_APR = Gauge("dne_funding_apr_percent", "Funding APR per market.", ["market"])
# A gauge, not a counter: funding is paid as well as received, and a counter cannot go down.
FUNDING_RECEIVED = Gauge(
    "dne_funding_received_usd", "Net funding recorded by the vault (negative when paid).",
    ["sub_account"],
)
TRADES = Counter("dne_trades_total", "Orders by kind and result.", ["kind", "result"])
GATE_BLOCKS = Counter("dne_safety_gate_blocks_total", "Trades refused by a gate.", ["reason"])
VAULT_SYNC_FAILURES = Counter("dne_vault_sync_failures_total", "Vault sync attempts that failed.")
REBALANCES = Counter("dne_rebalances_total", "Auto-rebalances by result.", ["result"])
# One trade's time in each hop of the engine's path: gates (reads and decisions), intent (the
# vault's PENDING record), executor (the order), vault (the completion), publish (the sync and
# the state sent to browsers after a trade).
TRADE_HOP = Histogram(
    "dne_engine_trade_hop_seconds", "Time one trade spends in each hop of the engine's path.",
    ["hop"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
FEED_DATA_AGE = Gauge("dne_feed_data_age_seconds", "Age of the market data served.")
# Gateway (browser side).
WEBSOCKET_CLIENTS = Gauge("dne_websocket_clients", "Browser WebSocket connections open now.")
GATEWAY_SKIPPED_EVENTS = Counter(
    "dne_gateway_skipped_events_total",
    "Engine events no browser got because they could not be encoded, by event kind.",
    ["event"],
)
HTTP_REQUESTS = Counter(
    "dne_http_requests_total", "HTTP requests served by the gateway, by route and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dne_http_request_duration_seconds", "HTTP request latency as seen by the gateway.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def serve_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """Serves /metrics on the service's own bind address (0.0.0.0 in a pod, loopback here)."""
    if port is not None:
        start_http_server(port, addr=host)


class RpcMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every unary call; streams are counted when they end."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Any],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        inner = handler.unary_unary
        service = self._service

        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = "OK"
            try:
                return await inner(request, context)
            except Exception:
                code = "ERROR"
                raise
            finally:
                status = context.code()
                if status is not None and status != grpc.StatusCode.OK:
                    code = status.name
                RPC_REQUESTS.labels(service, method, code).inc()
                RPC_LATENCY.labels(service, method).observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
