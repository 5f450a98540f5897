"""Properties of the live table's cache, on recorded accounts read without a network."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.clock import ManualClock
from tests.kit.feed_live_builders import (
    BACKOFF_SECONDS,
    NOW,
    TTL_SECONDS,
    FakeChainReader,
    offline_live_market,
    recorded_perp_accounts,
)

ACCOUNTS = recorded_perp_accounts()


@settings(max_examples=100)
@given(waits=st.lists(st.floats(min_value=0, max_value=60), min_size=1, max_size=8))
def test_within_the_ttl_the_rpc_is_read_once_and_the_age_is_the_time_since(
    waits: list[float],
) -> None:
    async def scenario() -> tuple[int, list[float], list[float]]:
        clock = ManualClock(NOW)
        reader = FakeChainReader(ACCOUNTS)
        market = offline_live_market(reader, clock)
        await market.funding_table(False)   # read at NOW
        ages, elapsed = [], []
        for wait in waits:
            if (clock.now() - NOW).total_seconds() + wait >= TTL_SECONDS:
                break
            clock.advance(wait)
            ages.append((await market.funding_table(False)).data_age_seconds)
            elapsed.append((clock.now() - NOW).total_seconds())
        return reader.reads, ages, elapsed

    reads, ages, elapsed = asyncio.run(scenario())
    assert reads == 1
    assert ages == pytest.approx(elapsed)


@settings(max_examples=100)
@given(overrun=st.floats(min_value=0, max_value=86_400))
def test_while_the_rpc_is_down_the_last_table_is_served_with_its_true_age(
    overrun: float,
) -> None:
    async def scenario() -> tuple[list[str], list[str], float, list[str]]:
        clock = ManualClock(NOW)
        reader = FakeChainReader(ACCOUNTS)
        market = offline_live_market(reader, clock)
        good = await market.funding_table(True)
        reader.down = True
        clock.advance(TTL_SECONDS + overrun)
        stale = await market.funding_table(True)
        return ([r.symbol for r in good.rows], [r.symbol for r in stale.rows],
                stale.data_age_seconds, stale.notes)

    good, stale, age, notes = asyncio.run(scenario())
    assert stale == good and len(stale) == 12
    assert age == pytest.approx(TTL_SECONDS + overrun)
    assert any(note.startswith("STALE") for note in notes)


def test_property_48_a_failed_refresh_is_logged_at_error_with_its_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        clock = ManualClock(NOW)
        reader = FakeChainReader(ACCOUNTS)
        market = offline_live_market(reader, clock)
        await market.funding_table(False)
        reader.down = True
        clock.advance(TTL_SECONDS)
        await market.funding_table(False)
        # inside the backoff the RPC is not asked again, so nothing more is logged
        clock.advance(BACKOFF_SECONDS / 2)
        await market.funding_table(False)

    with caplog.at_level(logging.INFO, logger="services.feed.chain_live"):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and "RPC is down" in str(errors[0].exc_info[1])
