"""The feed as a real process: `python -m services.feed`, as the launcher starts it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.launcher.processes import ServiceProcess, ServiceStartError

pytestmark = pytest.mark.integration


async def test_the_feed_process_serves_the_funding_table_over_grpc(tmp_path: Path) -> None:
    env = {
        "PORT": "0",
        "DNE_IMPORT_DIR": str(tmp_path / "history"),
        "REPLAY_START": "2026-01-15T12:00:00Z",
        "REPLAY_SPEED": "1",
        "LOG_FORMAT": "text",
    }
    process = ServiceProcess("feed", env, tmp_path / "feed.log")
    address = await process.start(timeout=60)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="dne.feed.v1.FeedService"), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            reply = await feed_pb2_grpc.FeedServiceStub(channel).ListFundingMarkets(
                feed_pb2.ListFundingMarketsRequest(), timeout=10)
        sol = next(market for market in reply.markets if market.symbol == "SOL-PERP")
        assert Decimal(sol.rate_1h) == Decimal("0.00000968")
        assert sol.tradable and reply.source == "replay"
    finally:
        assert await process.stop() == 0


async def test_a_source_other_than_replay_or_drift_refuses_to_start_with_a_reason(
    tmp_path: Path,
) -> None:
    log = tmp_path / "feed.log"
    process = ServiceProcess("feed", {"PORT": "0", "FEED_SOURCE": "binance"}, log)
    with pytest.raises(ServiceStartError) as refused:
        await process.start(timeout=30)
    assert "exited with 2" in str(refused.value)
    assert "use 'replay' (recorded Drift data) or 'drift'" in await asyncio.to_thread(log.read_text)

