"""Database URLs, drivers and column types: plain URLs work, money and times stay exact."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.dialects import postgresql, sqlite

from services.common.clock import ManualClock
from services.vault.database import DEFAULT_DATABASE_URL, REPO_ROOT, driver_url
from services.vault.database import create_engine as create_vault_engine
from services.vault.schema import DecimalString, UtcDateTime
from services.vault.settings import VaultSettings
from services.vault.store import VaultStore
from tests.kit.vault_databases import START, database_url, postgres_dsn


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:secret@db:5432/dne", "postgresql+psycopg://u:secret@db:5432/dne"),
        ("postgres://u@db/dne", "postgresql+psycopg://u@db/dne"),
        ("postgresql+psycopg://u@db/dne", "postgresql+psycopg://u@db/dne"),
        # The async drivers' names that earlier versions took still work.
        ("postgresql+asyncpg://u@db/dne", "postgresql+psycopg://u@db/dne"),
        ("sqlite:////var/lib/dne/vault.db", "sqlite+pysqlite:////var/lib/dne/vault.db"),
        ("sqlite+aiosqlite:///var/vault.db", "sqlite+pysqlite:///var/vault.db"),
    ],
)
def test_plain_database_urls_map_to_the_vaults_drivers(given: str, expected: str) -> None:
    assert driver_url(given) == expected
    assert VaultSettings(database_url=given).database_url == expected


@pytest.mark.parametrize("url", ["mysql://u@db/dne", "not a url", ""])
def test_a_database_the_vault_cannot_use_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        VaultSettings(database_url=url)


def test_the_default_database_is_a_sqlite_file_under_the_repository_var_directory() -> None:
    assert VaultSettings().database_url == DEFAULT_DATABASE_URL
    assert f"sqlite+pysqlite:///{REPO_ROOT / 'var' / 'vault.db'}" == DEFAULT_DATABASE_URL


async def test_the_tables_are_created_where_the_url_says(backend: str, tmp_path: Path) -> None:
    """SQLite: the file's missing directory is made. PostgreSQL: libpq's options=-c
    search_path=... in a plain URL is honoured, so each run keeps to its own schema."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'not' / 'yet' / 'vault.db'}"
        store = VaultStore(create_vault_engine(url), ManualClock(START))
        await store.create_schema()
        await store.dispose()
        assert (tmp_path / "not" / "yet" / "vault.db").is_file()
        return
    async with database_url(backend, tmp_path) as url:
        schema = url.rsplit("%3D", 1)[1]
        store = VaultStore(create_vault_engine(url), ManualClock(START))
        await store.create_schema()
        await store.dispose()
        async with await psycopg.AsyncConnection.connect(await postgres_dsn()) as connection:
            cursor = await connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
            tables = await cursor.fetchall()
        assert {row[0] for row in tables} == {
            "vaults", "positions", "trades", "funding_payments"}


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_money_columns_store_exact_text_and_refuse_floats(dialect: object) -> None:
    column = DecimalString()
    text = "123456789012345.000000000000000000000000000001"
    assert column.process_bind_param(Decimal(text), dialect) == text  # type: ignore[arg-type]
    assert column.process_result_value(text, dialect) == Decimal(text)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        column.process_bind_param(0.1, dialect)  # type: ignore[arg-type]


def test_time_columns_refuse_naive_times_and_answer_utc() -> None:
    column = UtcDateTime()
    with pytest.raises(ValueError, match="time zone"):
        column.process_bind_param(datetime(2026, 1, 1), sqlite.dialect())
    stored = column.process_bind_param(datetime(2026, 1, 1, tzinfo=UTC), sqlite.dialect())
    assert column.process_result_value(stored, sqlite.dialect()) == datetime(2026, 1, 1, tzinfo=UTC)
