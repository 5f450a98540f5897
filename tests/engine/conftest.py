"""Fixtures for the engine's tests: an engine wired to in-memory fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.engine_fakes import EngineHarness, build_engine


@pytest.fixture
async def harness() -> AsyncIterator[EngineHarness]:
    """A stopped engine and its fakes."""
    built = build_engine()
    yield built
    await built.engine.shutdown()  # type: ignore[attr-defined]


@pytest.fixture
async def running(harness: EngineHarness) -> EngineHarness:
    """The engine started in paper mode; retry waits recorded so far are cleared."""
    result = await harness.engine.start("paper", 0, "start-1")  # type: ignore[attr-defined]
    assert result.ok, result.error
    harness.sleeps.clear()
    return harness
