"""Every vault test runs twice: on a SQLite file and on a PostgreSQL schema of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit.vault_databases import VaultUnderTest, vault_under_test

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def vault(backend: str, tmp_path: Path) -> AsyncIterator[VaultUnderTest]:
    async with vault_under_test(backend, tmp_path) as under_test:
        yield under_test
