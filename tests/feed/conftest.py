from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.feed.replay_market import ReplayMarket
from tests.kit.feed_builders import FeedStubs, feed_server, replay_market


@pytest.fixture
def import_dir(tmp_path: Path) -> Path:
    return tmp_path / "history"


@pytest.fixture
def market(import_dir: Path) -> ReplayMarket:
    return replay_market(import_dir)


@pytest.fixture
async def stubs(market: ReplayMarket) -> AsyncIterator[FeedStubs]:
    async with feed_server(market) as running:
        yield running
