"""Fixtures of the live driver's tests: a stand-in venue with a fresh SOL-PERP oracle, and a
started DriftDriver on it with a fast clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.executor.drift.driver import DriftDriver
from tests.kit.executor_live_builders import LiveRig, live_rig

SOL_ORACLE = "85.016475"  # the recorded SOL-PERP oracle price


@pytest.fixture
async def rig() -> AsyncIterator[LiveRig]:
    async with live_rig() as started:
        await started.post("/_control/oracle", {"market_index": 0, "price": SOL_ORACLE})
        yield started


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "live_orders.json"


@pytest.fixture
async def driver(rig: LiveRig, state_path: Path) -> AsyncIterator[DriftDriver]:
    started = rig.driver(state_path)
    await started.start()
    try:
        yield started
    finally:
        await started.close()
