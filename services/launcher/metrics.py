"""The launcher's own metrics: what the supervisor did, served on the launcher's port."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

DEFAULT_METRICS_PORT = 9469

SERVICE_RESTARTS = Counter(
    "dne_service_restarts_total",
    "Services the launcher started again after they exited without being asked to.",
    ["service"],
)
SERVICE_HUNG_KILLS = Counter(
    "dne_service_hung_kills_total",
    "Services the launcher killed because they stopped answering their health check.",
    ["service"],
)


def serve_launcher_metrics(port: int = DEFAULT_METRICS_PORT, host: str = "127.0.0.1") -> str:
    """Serves /metrics; answers host:port (port 0 picks a free one)."""
    server, _ = start_http_server(port, addr=host)
    return f"{host}:{server.server_address[1]}"
