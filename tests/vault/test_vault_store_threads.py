"""The store's writes run whole on worker threads: the event loop keeps serving while one runs.
A read never waits for a writer (SQLite: no write lock for reads), so SQLite's run on the loop
itself, where they cost less than the hop to a thread; PostgreSQL's round trips keep the
threads."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import event

from services.common.clock import ManualClock
from services.vault.database import create_engine
from services.vault.domain import VaultKey
from services.vault.store import VaultStore
from tests.kit.vault_databases import START, database_url

KEY = VaultKey("acct", 0)


async def test_the_event_loop_keeps_running_while_a_transaction_works(
    backend: str, tmp_path: Path
) -> None:
    async with database_url(backend, tmp_path) as url:
        engine = create_engine(url)
        store = VaultStore(engine, ManualClock(START))
        await store.create_schema()
        await store.open_vault(KEY)
        threads: set[str] = set()

        @event.listens_for(engine, "before_cursor_execute")
        def slow_statement(*_args: object) -> None:
            threads.add(threading.current_thread().name)
            time.sleep(0.05)  # a slow disk: blocks the thread it runs on

        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        try:
            await store.open_vault(KEY)  # gets or creates: a write
        finally:
            ticking.cancel()
            await store.dispose()
        assert threading.current_thread().name not in threads
        assert ticks >= 10, f"the loop ran {ticks} times during a 0.15 s transaction"


async def test_a_read_does_not_wait_for_a_writer_holding_the_sqlite_lock(tmp_path: Path) -> None:
    store = VaultStore(create_engine(f"sqlite:///{tmp_path / 'vault.db'}"), ManualClock(START))
    await store.create_schema()
    await store.open_vault(KEY)
    writer = sqlite3.connect(tmp_path / "vault.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the lock for as long as it likes
    try:
        started = time.perf_counter()
        status = await asyncio.wait_for(store.vault_status(KEY), timeout=5)
        trades = await store.list_trades(KEY, limit=10)
        elapsed = time.perf_counter() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        await store.dispose()
    assert status.key == KEY and trades == []
    assert elapsed < 1.0  # a BEGIN IMMEDIATE would have waited out the 15 s busy timeout


async def test_sqlite_reads_run_on_the_loop_and_other_reads_on_a_worker(
    backend: str, tmp_path: Path
) -> None:
    async with database_url(backend, tmp_path) as url:
        engine = create_engine(url)
        store = VaultStore(engine, ManualClock(START))
        await store.create_schema()
        await store.open_vault(KEY)
        threads: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def note_thread(*_args: object) -> None:
            threads.append(threading.current_thread().name)

        try:
            await store.vault_status(KEY)
            await store.list_trades(KEY, client_order_id="nothing-yet", limit=1)
            await store.list_funding_payments(KEY, None)
            reads, threads[:] = list(threads), []
            await store.open_vault(KEY)
            writes = list(threads)
        finally:
            await store.dispose()
    loop_thread = threading.current_thread().name
    assert reads and writes
    assert loop_thread not in writes
    if backend == "sqlite":
        assert set(reads) == {loop_thread}
    else:
        assert loop_thread not in reads
