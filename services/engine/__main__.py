"""python -m services.engine"""

from __future__ import annotations

import asyncio
import sys

from dne.backtest.v1 import backtest_pb2, backtest_pb2_grpc
from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from dne.executor.v1 import executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from dne.vault.v1 import vault_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.grpc_server import run_service
from services.common.grpc_tls import TlsFiles
from services.common.logs import register_secret
from services.common.service_auth import TokenError
from services.common.telemetry import setup_tracing
from services.engine.backend_health import HEALTH_CALL_TIMEOUT_SEC, BackendHealth
from services.engine.backtests import BacktestServicer
from services.engine.engine import FundingEngine
from services.engine.guard import EngineTokens
from services.engine.servicer import EngineServicer
from services.engine.settings import EngineSettings


async def main() -> None:
    settings = EngineSettings()
    try:
        tokens = EngineTokens.load(settings)
    except TokenError as error:
        print(f"engine: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    register_secret(tokens.api, tokens.service)
    # Before the channels: they trace their calls only when spans are exported.
    setup_tracing("engine", settings.otel_exporter_otlp_endpoint)
    # The feed's market data is open to every caller; the executor and the vault answer only
    # calls carrying the service token.
    tls = TlsFiles.of(settings)
    feed, executor, vault = (open_channel(settings.feed_address, tls=tls),
                             open_channel(settings.executor_address, tokens.service, tls),
                             open_channel(settings.vault_address, tokens.service, tls))
    engine = FundingEngine(
        settings,
        feed_pb2_grpc.FeedServiceStub(feed),
        executor_pb2_grpc.ExecutorServiceStub(executor),
        vault_pb2_grpc.VaultServiceStub(vault),
    )

    backends = BackendHealth(executor, vault, keep_seconds=settings.backend_health_cache_sec,
                             timeout=HEALTH_CALL_TIMEOUT_SEC)

    def register(server):  # type: ignore[no-untyped-def]
        engine_pb2_grpc.add_EngineServiceServicer_to_server(
            EngineServicer(engine, backends), server)
        backtest_pb2_grpc.add_BacktestServiceServicer_to_server(BacktestServicer(), server)
        return [engine_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name,
                backtest_pb2.DESCRIPTOR.services_by_name["BacktestService"].full_name]

    async def on_start() -> None:
        # In the background: the server answers health and status while the engine resumes.
        engine.resume_if_started()

    async def on_stop() -> None:
        await engine.shutdown()
        engine.bus.close()
        for channel in (feed, executor, vault):
            await channel.close()

    await run_service("engine", settings, register, on_start=on_start, on_stop=on_stop,
                      guard=tokens.guard())


if __name__ == "__main__":
    asyncio.run(main())
