"""The market clock: replay time at a speed, paused, advanced, holding at the end of the data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.common.errors import DomainError, ErrorCode
from services.common.timeutil import from_timestamp, to_timestamp
from tests.kit.feed_builders import (
    DATA_END,
    FIRST_DAY,
    FakeMonotonic,
    FeedStubs,
    feed_server,
    replay_market,
)


def test_by_default_the_replay_starts_on_the_first_recorded_day_one_hour_per_minute(
    import_dir: Path,
) -> None:
    wall = FakeMonotonic()
    market = replay_market(import_dir, paused=False, wall=wall)
    assert market.now() == FIRST_DAY
    wall.sleep(60)
    assert market.now() == FIRST_DAY + timedelta(hours=1)
    state = market.clock_state()
    assert (state.start, state.end, state.speed, state.mode) == (FIRST_DAY, DATA_END, 60, "replay")


def test_the_clock_holds_at_the_end_of_the_recorded_data(import_dir: Path) -> None:
    wall = FakeMonotonic()
    market = replay_market(import_dir, start=DATA_END - timedelta(hours=1), paused=False, wall=wall)
    wall.sleep(3600)
    assert market.now() == DATA_END


def test_a_paused_clock_stands_still_and_advance_moves_it(import_dir: Path) -> None:
    wall = FakeMonotonic()
    market = replay_market(import_dir, paused=True, wall=wall)
    wall.sleep(600)
    assert market.now() == FIRST_DAY
    market.advance_clock(5400)
    assert market.now() == FIRST_DAY + timedelta(hours=1.5)


def test_advance_beyond_the_end_holds_at_the_end(import_dir: Path) -> None:
    market = replay_market(import_dir)
    market.advance_clock(1e300)
    assert market.now() == DATA_END


def test_set_clock_moves_time_changes_speed_and_resumes(import_dir: Path) -> None:
    wall = FakeMonotonic()
    market = replay_market(import_dir, paused=True, wall=wall)
    moment = datetime(2026, 2, 1, 6, tzinfo=UTC)
    market.set_clock(now=moment, speed=3600, paused=False)
    wall.sleep(2)
    assert market.now() == moment + timedelta(hours=2)
    assert market.clock_state().speed == 3600


@pytest.mark.parametrize("speed", [-1.0, math.nan, math.inf, 1e9])
def test_set_clock_refuses_a_speed_that_is_not_a_sane_positive_number(
    import_dir: Path, speed: float
) -> None:
    market = replay_market(import_dir)
    with pytest.raises(DomainError) as refused:
        market.set_clock(now=None, speed=speed, paused=None)
    assert refused.value.code == ErrorCode.INVALID_ARGUMENT
    assert "speed" in refused.value.message


def test_set_clock_refuses_a_time_outside_the_recorded_data(import_dir: Path) -> None:
    market = replay_market(import_dir)
    with pytest.raises(DomainError) as refused:
        market.set_clock(now=datetime(2025, 1, 1, tzinfo=UTC), speed=None, paused=None)
    assert refused.value.code == ErrorCode.INVALID_ARGUMENT
    assert "outside the recorded data" in refused.value.message
    assert market.now() == FIRST_DAY


@pytest.mark.parametrize("seconds", [-1.0, math.nan, -math.inf, math.inf])
def test_advance_refuses_negative_or_non_finite_seconds(import_dir: Path, seconds: float) -> None:
    market = replay_market(import_dir)
    with pytest.raises(DomainError) as refused:
        market.advance_clock(seconds)
    assert refused.value.code == ErrorCode.INVALID_ARGUMENT


async def test_get_clock_answers_replay_time_over_grpc(stubs: FeedStubs) -> None:
    moment = datetime(2026, 2, 2, 2, tzinfo=UTC)
    await stubs.replay.SetClock(feed_pb2.SetClockRequest(
        now=to_timestamp(moment), speed=120, paused=True, set_paused=True))
    clock = (await stubs.feed.GetClock(feed_pb2.GetClockRequest())).clock
    assert from_timestamp(clock.now) == moment
    assert clock.speed == 120 and clock.paused and clock.mode == "replay"
    assert from_timestamp(clock.start) == FIRST_DAY
    assert from_timestamp(clock.end) == DATA_END
    advanced = await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=90))
    assert from_timestamp(advanced.clock.now) == moment + timedelta(seconds=90)


async def test_set_clock_with_zero_speed_and_no_pause_flag_keeps_both(import_dir: Path) -> None:
    market = replay_market(import_dir, speed=30, paused=True)
    async with feed_server(market) as stubs:
        reply = await stubs.replay.SetClock(feed_pb2.SetClockRequest(speed=0, paused=False))
    assert reply.clock.speed == 30 and reply.clock.paused


async def test_bad_clock_input_answers_invalid_argument_over_grpc(stubs: FeedStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.replay.SetClock(feed_pb2.SetClockRequest(speed=-5))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "speed" in (refused.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stubs.replay.AdvanceClock(feed_pb2.AdvanceClockRequest(seconds=math.nan))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
