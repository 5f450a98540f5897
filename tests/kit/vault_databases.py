"""The vault under test: a store on SQLite or PostgreSQL, served by a real in-process server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import psycopg
import pytest
from sqlalchemy import delete

from dne.vault.v1 import vault_pb2_grpc
from services.common.clock import ManualClock
from services.vault.database import create_engine
from services.vault.schema import Base
from services.vault.servicer import VaultServicer, register
from services.vault.store import VaultStore

# CI machines all run PostgreSQL here with trust auth; the superuser's name differs by image.
POSTGRES_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)
START = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def postgres_dsn() -> str:
    """The first candidate that connects; fails the test (never skips) when none does."""
    failures: list[str] = []
    for dsn in POSTGRES_CANDIDATES:
        try:
            connection = await psycopg.AsyncConnection.connect(dsn, connect_timeout=5)
        except (OSError, psycopg.Error, TimeoutError) as error:
            failures.append(f"{dsn}: {type(error).__name__}: {error}")
            continue
        await connection.close()
        return dsn
    pytest.fail("PostgreSQL at 127.0.0.1:5432 is required and unreachable:\n" + "\n".join(failures))


def sqlite_file_url(directory: Path) -> str:
    """A plain URL on purpose: the vault must map it to its async driver itself."""
    return f"sqlite:///{directory / 'vault.db'}"


@asynccontextmanager
async def database_url(backend: str, directory: Path) -> AsyncIterator[str]:
    """A SQLite file, or a PostgreSQL schema of its own that is dropped afterwards."""
    if backend == "sqlite":
        yield sqlite_file_url(directory)
        return
    dsn = await postgres_dsn()
    schema = f"vault_test_{uuid.uuid4().hex[:12]}"
    admin = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        # libpq's form, as an operator would write it.
        yield f"{dsn}?options=-csearch_path%3D{schema}"
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@dataclass
class VaultUnderTest:
    stub: vault_pb2_grpc.VaultServiceStub
    store: VaultStore
    clock: ManualClock
    backend: str

    async def reset(self) -> None:
        """Empties every table: hypothesis examples share one database and one server."""
        with self.store.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(delete(table))


@asynccontextmanager
async def served_store(store: VaultStore) -> AsyncIterator[vault_pb2_grpc.VaultServiceStub]:
    """VaultServicer on a real gRPC server on 127.0.0.1:0, and a stub talking to it."""
    server = grpc.aio.server()
    register(VaultServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield vault_pb2_grpc.VaultServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(None)


@asynccontextmanager
async def vault_under_test(backend: str, directory: Path) -> AsyncIterator[VaultUnderTest]:
    async with database_url(backend, directory) as url:
        clock = ManualClock(START)
        store = VaultStore(create_engine(url), clock)
        try:
            await store.create_schema()
            async with served_store(store) as stub:
                yield VaultUnderTest(stub, store, clock, backend)
        finally:
            await store.dispose()
