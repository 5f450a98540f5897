"""The feed as a real process with FEED_SOURCE=drift, reading the venue stand-in."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.launcher.processes import ServiceProcess, ServiceStartError
from tests.kit.venue_sim_builders import SimAndWallet

pytestmark = pytest.mark.integration


async def test_the_live_feed_process_answers_list_funding_markets_over_grpc(
    sim: SimAndWallet, tmp_path: Path,
) -> None:
    env = {
        "PORT": "0",
        "FEED_SOURCE": "drift",
        "RPC_URL": sim.sim.rpc_url,
        "DATA_API_URL": sim.sim.data_api_url,
        "VENUE_PROFILE": "drift",
        "LOG_FORMAT": "text",
    }
    process = ServiceProcess("feed", env, tmp_path / "feed.log")
    address = await process.start(timeout=60)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="dne.feed.v1.FeedService"), timeout=5)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            feed = feed_pb2_grpc.FeedServiceStub(channel)
            reply = await feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest(), timeout=20)
            history = await feed.GetFundingHistory(
                feed_pb2.GetFundingHistoryRequest(market="SOL-PERP", limit=3), timeout=20)
            clock = await feed.GetClock(feed_pb2.GetClockRequest(), timeout=5)
        assert reply.source == "drift"
        sol = next(market for market in reply.markets if market.symbol == "SOL-PERP")
        assert Decimal(sol.rate_1h) < 0 and sol.tradable and sol.estimated_next_rate_1h
        assert len(history.records) == 3 and clock.clock.mode == "wall"
    finally:
        assert await process.stop() == 0


async def test_the_live_source_without_an_rpc_url_refuses_to_start_with_a_reason(
    tmp_path: Path,
) -> None:
    log = tmp_path / "feed.log"
    process = ServiceProcess("feed", {"PORT": "0", "FEED_SOURCE": "drift"}, log)
    with pytest.raises(ServiceStartError) as refused:
        await process.start(timeout=30)
    assert "exited with 2" in str(refused.value)
    assert "set RPC_URL" in await asyncio.to_thread(log.read_text)


async def test_an_unknown_venue_profile_refuses_to_start_with_a_reason(tmp_path: Path) -> None:
    log = tmp_path / "feed.log"
    env = {"PORT": "0", "FEED_SOURCE": "drift", "RPC_URL": "http://127.0.0.1:9",
           "VENUE_PROFILE": "nowhere"}
    process = ServiceProcess("feed", env, log)
    with pytest.raises(ServiceStartError):
        await process.start(timeout=30)
    assert "no venue profile 'nowhere'" in await asyncio.to_thread(log.read_text)


async def test_a_live_feed_whose_rpc_is_unreachable_still_serves_and_answers_unavailable(
    tmp_path: Path,
) -> None:
    env = {"PORT": "0", "FEED_SOURCE": "drift", "RPC_URL": "http://127.0.0.1:9",
           "RPC_RETRY_DELAYS_SEC": "0.05,0.05", "LOG_FORMAT": "text"}
    process = ServiceProcess("feed", env, tmp_path / "feed.log")
    address = await process.start(timeout=60)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await feed_pb2_grpc.FeedServiceStub(channel).ListFundingMarkets(
                    feed_pb2.ListFundingMarketsRequest(), timeout=20)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "could not be read from the RPC" in (refused.value.details() or "")
    finally:
        assert await process.stop() == 0
