"""Property 6: WARNING below 50 %, CRITICAL below 20 %, on change and at most every 60 s."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.engine.health import HealthAlerter, alert_level

health = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=4)


@settings(max_examples=200)
@given(h=health)
def test_property_6_warning_below_50_critical_below_20(h: Decimal) -> None:
    expected = "CRITICAL" if h < 20 else "WARNING" if h < 50 else None
    assert alert_level(h) == expected
    alert = HealthAlerter(monotonic=lambda: 0.0).observe(h)
    assert (alert.level if alert else None) == expected


@settings(max_examples=100)
@given(readings=st.lists(st.tuples(health, st.floats(min_value=0, max_value=120)),
                         min_size=1, max_size=30))
def test_property_6_emitted_on_level_change_and_repeated_at_most_every_60_s(
    readings: list[tuple[Decimal, float]]
) -> None:
    wall = [0.0]
    alerter = HealthAlerter(monotonic=lambda: wall[0])
    level: str | None = None
    last_emit = 0.0
    for reading, step in readings:
        wall[0] += step
        alert = alerter.observe(reading)
        new_level = alert_level(reading)
        if new_level is None:
            assert alert is None
        elif new_level != level:
            assert alert is not None and alert.level == new_level
        elif wall[0] - last_emit < 60:
            assert alert is None
        else:
            assert alert is not None
        if alert is not None:
            last_emit = wall[0]
            assert alert.message and alert.health == reading
        level = new_level


def test_a_persisting_warning_repeats_after_a_minute_of_wall_time() -> None:
    wall = [0.0]
    alerter = HealthAlerter(monotonic=lambda: wall[0])
    assert alerter.observe(Decimal(40)) is not None
    wall[0] = 59
    assert alerter.observe(Decimal(41)) is None
    wall[0] = 60
    assert alerter.observe(Decimal(42)) is not None
    assert alerter.observe(Decimal(10)).level == "CRITICAL"  # type: ignore[union-attr]
