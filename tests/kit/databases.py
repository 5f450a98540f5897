"""Database URLs for tests: a SQLite file, or a fresh schema in the local PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'vault.db'}"


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A schema of its own for one test; dropped afterwards. Answers a DATABASE_URL using it."""
    schema = f"dne_test_{uuid.uuid4().hex[:12]}"
    connection = await psycopg.AsyncConnection.connect(POSTGRES_DSN, autocommit=True)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        yield f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}"
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()
