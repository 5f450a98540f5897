"""Fixtures of the venue stand-in tests: one started stand-in per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.venue_sim_builders import SimAndWallet, running_sim


@pytest.fixture
async def sim() -> AsyncIterator[SimAndWallet]:
    async with running_sim() as started:
        yield started


@pytest.fixture
async def paused_sim() -> AsyncIterator[SimAndWallet]:
    async with running_sim(paused=True) as started:
        yield started
