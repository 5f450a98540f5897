"""Builders for the feed's tests: the recorded data, a replay on a fake wall clock, a server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc

from dne.feed.v1 import feed_pb2_grpc
from services.feed.chain_live import ChainLiveMarket
from services.feed.replay_market import ReplayMarket
from services.feed.servicers import register
from services.feed.settings import DEFAULT_DATA_DIR

DATA_DIR = DEFAULT_DATA_DIR
SNAPSHOTS = DATA_DIR / "drift" / "mainnet_account_snapshots.json"
DAILY_FUNDING = DATA_DIR / "drift" / "daily_funding_SOL_BTC_ETH_2026.json"
FIXTURES = Path(__file__).parents[1] / "feed" / "fixtures"
FIRST_DAY = datetime(2026, 1, 10, tzinfo=UTC)
DATA_END = datetime(2026, 3, 24, tzinfo=UTC)   # end of the last recorded day, 2026-03-23


class FakeMonotonic:
    """A wall clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def sleep(self, seconds: float) -> None:
        self.value += seconds


def replay_market(
    import_dir: Path,
    *,
    start: datetime | None = None,
    speed: float = 60.0,
    paused: bool = True,
    wall: FakeMonotonic | None = None,
) -> ReplayMarket:
    """The replay on the recorded data; paused by default so market time is what the test says."""
    return ReplayMarket.load(
        DATA_DIR, import_dir, start=start, speed=speed, paused=paused,
        monotonic=wall or FakeMonotonic(),
    )


def recorded_summaries() -> dict[str, dict[str, Any]]:
    """The PerpMarket records' `summary`, the latest per market index (as the feed keeps)."""
    latest: dict[int, dict[str, Any]] = {}
    for record in json.loads(SNAPSHOTS.read_text())["accounts"]:
        if record["kind"] != "PerpMarket":
            continue
        summary = record["summary"]
        held = latest.get(summary["market_index"])
        key = (summary["last_update_slot"], summary["last_oracle_price_twap_ts"])
        if held is None or key > (held["last_update_slot"], held["last_oracle_price_twap_ts"]):
            latest[summary["market_index"]] = summary
    return {summary["name"]: summary for summary in latest.values()}


def recorded_daily_rate(market: str, day: str) -> Decimal:
    records = json.loads(DAILY_FUNDING.read_text(), parse_float=Decimal)["markets"][market]
    return next(Decimal(record["avgRate"]) for record in records if record["date"] == day)


@dataclass
class FeedStubs:
    feed: feed_pb2_grpc.FeedServiceStub
    replay: feed_pb2_grpc.ReplayControlServiceStub


@asynccontextmanager
async def feed_server(market: ReplayMarket | ChainLiveMarket) -> AsyncIterator[FeedStubs]:
    """The feed's servicers, over either source, on a real in-process gRPC server."""
    server = grpc.aio.server()
    register(market)(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield FeedStubs(
            feed_pb2_grpc.FeedServiceStub(channel),
            feed_pb2_grpc.ReplayControlServiceStub(channel),
        )
    finally:
        await channel.close()
        await server.stop(None)
