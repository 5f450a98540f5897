"""The one shape every service's main has: settings, telemetry, server, health, signals, stop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.grpc_tls import TlsFiles
from services.common.heap import freeze_startup_heap
from services.common.logs import configure_logging
from services.common.metrics import RpcMetricsInterceptor, serve_metrics
from services.common.settings import ServiceSettings
from services.common.telemetry import server_interceptors, setup_tracing, shutdown_tracing

log = logging.getLogger(__name__)

Register = Callable[[grpc.aio.Server], Sequence[str]]
Hook = Callable[[], Awaitable[None]]


async def build_server(
    service: str, settings: ServiceSettings, register: Register, on_start: Hook | None = None,
    guard: grpc.aio.ServerInterceptor | None = None,
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer, Sequence[str]]:
    """Builds a server on settings.host:port, runs `on_start`, then starts serving; answers
    (server, port, health, names). Nothing is answered before `on_start` has loaded what the
    service keeps (the executor's order log: "not found" meanwhile would read as "never sent").
    The `guard` (services/common/service_auth.py) comes last, so its refusals are traced and
    counted like any other answer."""
    server = grpc.aio.server(
        interceptors=[*server_interceptors(), RpcMetricsInterceptor(service),
                      *([guard] if guard is not None else [])],
        options=[("grpc.so_reuseport", 0)],
    )
    service_names = list(register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME],
        server,
    )
    tls = TlsFiles.of(settings)
    address = f"{settings.host}:{settings.port}"
    port = (server.add_secure_port(address, tls.server_credentials()) if tls is not None
            else server.add_insecure_port(address))
    if port == 0:
        raise RuntimeError(f"{service}: cannot bind {settings.host}:{settings.port}")
    if on_start is not None:
        await on_start()
    await server.start()
    return server, port, health_servicer, service_names


async def serve_health_only(
    health_servicer: health.aio.HealthServicer, settings: ServiceSettings
) -> grpc.aio.Server | None:
    """The same health answers in plaintext on HEALTH_PORT, nothing else: the kubelet's gRPC
    probe cannot present a client certificate."""
    if settings.health_port is None:
        return None
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(f"{settings.host}:{settings.health_port}") == 0:
        raise RuntimeError(f"cannot bind the health port {settings.host}:{settings.health_port}")
    await server.start()
    return server


async def set_serving(
    health_servicer: health.aio.HealthServicer, names: Sequence[str], serving: bool
) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ["", *names]:
        await health_servicer.set(name, status)


async def run_service(
    service: str,
    settings: ServiceSettings,
    register: Register,
    *,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
    guard: grpc.aio.ServerInterceptor | None = None,
) -> None:
    """Runs until SIGTERM or SIGINT, then drains: NOT_SERVING, stop with grace, flush spans."""
    configure_logging(service, settings.log_level, settings.log_format)
    setup_tracing(service, settings.otel_exporter_otlp_endpoint)
    serve_metrics(settings.metrics_port, settings.host)
    server, port, health_servicer, names = await build_server(service, settings, register,
                                                              on_start, guard)
    health_only = await serve_health_only(health_servicer, settings)
    freeze_startup_heap()
    await set_serving(health_servicer, names, True)
    # The launcher and the tests read this line to learn the port when it was 0.
    print(f"{service} listening on {settings.host}:{port}", flush=True)
    log.info("serving", extra={"address": f"{settings.host}:{port}"})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    log.info("shutting down")
    await health_servicer.enter_graceful_shutdown()
    if on_stop is not None:
        await on_stop()
    await server.stop(settings.shutdown_grace_seconds)
    if health_only is not None:
        await health_only.stop(0)
    shutdown_tracing()
