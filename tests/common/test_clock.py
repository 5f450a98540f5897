from datetime import UTC, datetime, timedelta

import pytest

from services.common.clock import ReplayClock

START = datetime(2026, 1, 10, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_replay_clock_runs_speed_times_faster_than_the_wall() -> None:
    wall = FakeMonotonic()
    clock = ReplayClock(START, speed=3600, monotonic=wall)
    wall.value += 2.5
    assert clock.now() == START + timedelta(hours=2.5)


def test_replay_clock_holds_at_the_end_of_the_data() -> None:
    wall = FakeMonotonic()
    clock = ReplayClock(START, speed=3600, end=START + timedelta(hours=3), monotonic=wall)
    wall.value += 10
    assert clock.now() == START + timedelta(hours=3)


def test_paused_replay_clock_stands_still_and_resumes_where_it_stopped() -> None:
    wall = FakeMonotonic()
    clock = ReplayClock(START, speed=60, monotonic=wall)
    wall.value += 60
    clock.set(paused=True)
    wall.value += 600
    assert clock.now() == START + timedelta(hours=1)
    clock.set(paused=False)
    wall.value += 60
    assert clock.now() == START + timedelta(hours=2)


def test_changing_speed_keeps_the_current_market_time() -> None:
    wall = FakeMonotonic()
    clock = ReplayClock(START, speed=60, monotonic=wall)
    wall.value += 60
    clock.set(speed=3600)
    assert clock.now() == START + timedelta(hours=1)
    wall.value += 1
    assert clock.now() == START + timedelta(hours=2)


def test_advance_moves_forward_only() -> None:
    clock = ReplayClock(START, speed=1, paused=True, monotonic=FakeMonotonic())
    clock.advance(7200)
    assert clock.now() == START + timedelta(hours=2)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


@pytest.mark.parametrize("speed", [0, -5])
def test_replay_clock_refuses_a_speed_that_is_not_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        ReplayClock(START, speed=speed)
