"""The replay's clock and price scenarios survive a restart of the feed (issue 10): a feed killed
and started again goes on from where its market stood, never back to the first recorded day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.common.timeutil import to_timestamp
from services.feed.replay_market import FeedStartError, ReplayMarket
from services.feed.replay_state import ReplayStateFile
from services.launcher.processes import ServiceProcess
from tests.kit.feed_builders import DATA_DIR, FIRST_DAY, FakeMonotonic

MOMENT = datetime(2026, 2, 3, 14, 30, tzinfo=UTC)


class FakeWall:
    def __init__(self) -> None:
        self.value = 1_800_000_000.0

    def __call__(self) -> float:
        return self.value


def load(tmp_path: Path, wall: FakeWall, **options: object) -> ReplayMarket:
    return ReplayMarket.load(DATA_DIR, tmp_path / "history", monotonic=FakeMonotonic(),
                             state_file=ReplayStateFile(tmp_path / "feed_state.json", wall),
                             **options)  # type: ignore[arg-type]


def test_a_paused_clock_and_a_price_scenario_come_back_as_they_were(tmp_path: Path) -> None:
    wall = FakeWall()
    market = load(tmp_path, wall, speed=60.0)
    market.set_clock(now=MOMENT, speed=None, paused=True)
    market.set_price_scenario("SOL-PERP", Decimal("123.45"))
    wall.value += 3600  # an hour of wall time while the feed is down changes nothing: paused

    again = load(tmp_path, wall, speed=60.0)
    assert again.clock_state().now == MOMENT and again.clock_state().paused
    assert again.price("SOL-PERP").quote.oracle == Decimal("123.45")
    assert again.price("SOL-PERP").quote.since == MOMENT


def test_a_running_clock_goes_on_by_the_wall_time_the_feed_was_down(tmp_path: Path) -> None:
    wall = FakeWall()
    market = load(tmp_path, wall, speed=60.0, paused=False)
    assert market.clock_state().now == FIRST_DAY  # the first start begins on the first day
    wall.value += 5  # killed, down for 5 s: 5 market minutes at 60x

    again = load(tmp_path, wall, speed=60.0, paused=False)
    assert again.clock_state().now == FIRST_DAY + timedelta(minutes=5)
    assert not again.clock_state().paused


def test_without_a_state_path_every_start_begins_afresh(tmp_path: Path) -> None:
    market = ReplayMarket.load(DATA_DIR, tmp_path / "history", paused=True)
    market.set_clock(now=MOMENT, speed=None, paused=True)
    assert ReplayMarket.load(DATA_DIR, tmp_path / "history", paused=True).clock_state().now \
        == FIRST_DAY
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_state_refuses_to_start_and_says_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "feed_state.json").write_text(json.dumps({"version": 99}))
    with pytest.raises(FeedStartError, match=r"feed_state\.json is unreadable"):
        load(tmp_path, FakeWall())


@pytest.mark.integration
async def test_a_feed_killed_and_restarted_keeps_its_market_clock(tmp_path: Path) -> None:
    env = {"PORT": "0", "DNE_IMPORT_DIR": str(tmp_path / "history"), "LOG_FORMAT": "text",
           "FEED_STATE_PATH": str(tmp_path / "feed_state.json")}
    process = ServiceProcess("feed", env, tmp_path / "feed.log")
    address = await process.start(timeout=60)
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            await feed_pb2_grpc.ReplayControlServiceStub(channel).SetClock(
                feed_pb2.SetClockRequest(now=to_timestamp(MOMENT), paused=True,
                                         set_paused=True), timeout=5)
        process.kill()
        await process.wait()
        assert await process.restart(timeout=60) == address
        async with grpc.aio.insecure_channel(address) as channel:
            clock = await feed_pb2_grpc.FeedServiceStub(channel).GetClock(
                feed_pb2.GetClockRequest(), timeout=5)
        assert clock.clock.now.ToDatetime(tzinfo=UTC) == MOMENT and clock.clock.paused
    finally:
        await process.stop()


def test_unset_start_with_a_lead_in_opens_that_far_into_the_data(tmp_path: Path) -> None:
    """make run's first start: a week of recorded history behind the replay's first hour."""
    week = ReplayMarket.load(DATA_DIR, tmp_path / "history", paused=True,
                             lead_in=timedelta(days=7))
    assert week.clock_state().now == FIRST_DAY + timedelta(days=7)
    plain = ReplayMarket.load(DATA_DIR, tmp_path / "history", paused=True)
    assert plain.clock_state().now == FIRST_DAY
    beyond = ReplayMarket.load(DATA_DIR, tmp_path / "history", paused=True,
                               lead_in=timedelta(days=3650))
    assert beyond.clock_state().now == beyond.clock_state().end   # held at the data's end
