"""Fixtures of the live feed's tests: a started venue stand-in and the live source on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.common.clock import ManualClock
from services.feed.chain_live import ChainLiveMarket
from tests.kit.feed_live_builders import NOW, RecordedSleep, live_market
from tests.kit.venue_sim_builders import SimAndWallet, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[SimAndWallet]:
    async with running_sim() as started:
        yield started


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
async def live(
    sim: SimAndWallet, clock: ManualClock, sleep: RecordedSleep
) -> AsyncIterator[ChainLiveMarket]:
    market = live_market(sim, clock, sleep=sleep)
    try:
        yield market
    finally:
        await market.close()
