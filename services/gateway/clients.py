"""The gRPC stubs the gateway calls, built once per process and passed to create_app."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc

from dne.engine.v1 import engine_pb2_grpc
from dne.executor.v1 import executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from services.common.grpc_client import open_channel
from services.gateway.settings import GatewaySettings


@dataclass
class BackendClients:
    feed: feed_pb2_grpc.FeedServiceStub
    engine: engine_pb2_grpc.EngineServiceStub
    executor: executor_pb2_grpc.ExecutorServiceStub
    health: dict[str, health_pb2_grpc.HealthStub]   # "feed", "engine", "executor", "vault"
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> BackendClients:
        addresses = {
            "feed": settings.feed_address, "engine": settings.engine_address,
            "executor": settings.executor_address, "vault": settings.vault_address,
        }
        channels = {name: open_channel(address) for name, address in addresses.items()}
        return cls(
            feed=feed_pb2_grpc.FeedServiceStub(channels["feed"]),
            engine=engine_pb2_grpc.EngineServiceStub(channels["engine"]),
            executor=executor_pb2_grpc.ExecutorServiceStub(channels["executor"]),
            health={name: health_pb2_grpc.HealthStub(channel)
                    for name, channel in channels.items()},
            channels=list(channels.values()),
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
