"""One running system (feed, vault, executor, engine, gateway) and one Chromium per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from tests.integration.flow import pause_clock_at
from tests.kit.browser_dashboard import (
    CHROMIUM,
    CHROMIUM_ARGS,
    GATEWAY_ENV,
    deposit,
    start_engine,
)
from tests.kit.databases import sqlite_url
from tests.kit.system import RunningSystem, running_system

pytestmark = pytest.mark.integration

# 2026-01-15 12:00 UTC: SOL-PERP funding was positive, so shorts receive it (a profitable carry).
REPLAY_START = datetime(2026, 1, 15, 12, tzinfo=UTC)
COLLATERAL_USDC = "1000"  # small, so a 3.7x short feels an 18 % SOL rally


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var_dir = tmp_path_factory.mktemp("browser")
    async with running_system(
        var_dir, sqlite_url(var_dir), gateway=True, gateway_env=GATEWAY_ENV
    ) as running:
        await pause_clock_at(running.stubs, REPLAY_START)
        await start_engine(running.stubs)
        await deposit(running.stubs, COLLATERAL_USDC)
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    directory = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
