"""Fixtures of the executor's tests: a fake feed and a started paper driver over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.executor.paper_driver import PaperDriver
from tests.kit.executor_fakes import FakeFeed, paper_driver


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed()


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "paper_venue.json"


@pytest.fixture
async def driver(feed: FakeFeed, state_path: Path) -> PaperDriver:
    started = paper_driver(feed, state_path)
    await started.start()
    return started
