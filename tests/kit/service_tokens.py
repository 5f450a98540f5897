"""The tokens a test hands the services it starts by hand (tests/kit/system.py makes its own
per system, as `make run` does), and channels that carry them."""

from __future__ import annotations

import grpc

from services.common.grpc_client import open_channel

TEST_SERVICE_TOKEN = "test-service-token-0123456789"
TEST_ENGINE_API_TOKEN = "test-engine-api-token-0123456789"
# What the executor and the vault need to start; the engine needs ENGINE_TOKENS_ENV.
SERVICE_TOKEN_ENV = {"SERVICE_TOKEN": TEST_SERVICE_TOKEN}
ENGINE_TOKENS_ENV = {**SERVICE_TOKEN_ENV, "DNE_API_TOKEN": TEST_ENGINE_API_TOKEN}


def service_channel(address: str) -> grpc.aio.Channel:
    """A channel to the executor or the vault, calling as the engine does."""
    return open_channel(address, TEST_SERVICE_TOKEN)


def engine_channel(address: str) -> grpc.aio.Channel:
    """A channel to the engine that may send it commands."""
    return open_channel(address, TEST_ENGINE_API_TOKEN)
