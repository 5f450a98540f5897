"""One real system (feed, vault, executor, engine, gateway as processes) per test module.

A module may set GATEWAY_ENV / ENGINE_ENV / FEED_ENV to configure its system; tests in it
share the module's event loop (pytestmark = pytest.mark.asyncio(loop_scope="module"))."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.kit.databases import sqlite_url
from tests.kit.system import RunningSystem, running_system

# Rate limits far above anything a test sends, for modules that are not about rate limits.
UNLIMITED = {
    "RATE_LIMIT_MARKETS": "100000/minute",
    "RATE_LIMIT_API": "100000/minute",
    "RATE_LIMIT_WS_COMMANDS": "100000/second",
    "RATE_LIMIT_POSITION_OPS": "100000/minute",
    "RATE_LIMIT_HEALTH": "100000/second",
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    directory = tmp_path_factory.mktemp("system")
    async with running_system(
        directory, sqlite_url(directory), gateway=True,
        gateway_env=getattr(request.module, "GATEWAY_ENV", None),
        engine_env=getattr(request.module, "ENGINE_ENV", None),
        feed_env=getattr(request.module, "FEED_ENV", None),
    ) as running:
        yield running
