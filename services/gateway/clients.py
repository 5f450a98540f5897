"""The gRPC stubs the gateway calls, built once per process and passed to create_app.

Only the feed and the engine: the gateway faces the internet, so it has no channel to the
executor or the vault (their health reaches /health through the engine's GetBackendHealth)."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc

from dne.backtest.v1 import backtest_pb2_grpc
from dne.engine.v1 import engine_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.grpc_tls import TlsFiles
from services.gateway.settings import GatewaySettings


@dataclass
class BackendClients:
    feed: feed_pb2_grpc.FeedServiceStub
    engine: engine_pb2_grpc.EngineServiceStub
    backtest: backtest_pb2_grpc.BacktestServiceStub
    health: dict[str, health_pb2_grpc.HealthStub]   # "feed", "engine"
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> BackendClients:
        addresses = {"feed": settings.feed_address, "engine": settings.engine_address}
        # The engine's commands need the API token: the gateway sends the one it checks.
        tls = TlsFiles.of(settings)
        channels = {name: open_channel(address, settings.api_token if name == "engine" else None,
                                       tls)
                    for name, address in addresses.items()}
        return cls(
            feed=feed_pb2_grpc.FeedServiceStub(channels["feed"]),
            engine=engine_pb2_grpc.EngineServiceStub(channels["engine"]),
            backtest=backtest_pb2_grpc.BacktestServiceStub(channels["engine"]),
            health={name: health_pb2_grpc.HealthStub(channel)
                    for name, channel in channels.items()},
            channels=list(channels.values()),
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
