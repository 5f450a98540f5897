"""Issue 12: each service freezes what it built before serving, so a full garbage collection
never again walks the 100,000-odd objects of its start (45-56 ms with the event loop stopped,
an order included). Real service processes, their own log lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kit.databases import sqlite_url
from tests.kit.system import running_system

pytestmark = pytest.mark.integration
# Fewer than any service builds before it serves (the engine, the smallest, about 55,000).
AT_LEAST_FROZEN = 20_000
# The first line each service logs once it serves: the gRPC services' own, uvicorn's.
SERVING = ("serving", "Application startup complete.")


def frozen_before_serving(log_path: Path) -> list[int]:
    """The objects each "startup heap frozen" line reports, if it came before the service's
    first line of serving."""
    lines = [json.loads(line) for line in log_path.read_text().splitlines()
             if line.startswith("{")]
    served = next(index for index, line in enumerate(lines) if line.get("message") in SERVING)
    return [line["frozen_objects"] for line in lines[:served]
            if line.get("message") == "startup heap frozen"]


async def test_every_service_freezes_its_startup_heap_once_before_serving(
        tmp_path: Path) -> None:
    async with running_system(tmp_path, sqlite_url(tmp_path), gateway=True,
                              common_env={"LOG_FORMAT": "json"}) as running:
        logs = {name: process.log_path
                for name, process in running.system.processes.items()}
        frozen = {name: frozen_before_serving(path) for name, path in logs.items()}
    assert set(frozen) == {"feed", "vault", "executor", "engine", "gateway"}
    for name, counts in frozen.items():
        assert len(counts) == 1, (name, counts)
        assert counts[0] >= AT_LEAST_FROZEN, (name, counts)
