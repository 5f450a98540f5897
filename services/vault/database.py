"""Database URLs and engines: SQLite (default, a file) or PostgreSQL (by URL).

The engines are synchronous: the store runs each whole transaction on a worker thread, one
hop per call, instead of awaiting every statement through an async driver (aiosqlite, asyncpg),
which cost 4-5x the CPU per call (issue 12: a trade lookup 3.2 -> 0.7 ms)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sqlalchemy_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from services.common.logs import redact

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite+pysqlite:///{REPO_ROOT / 'var' / 'vault.db'}"

# Each URL maps to the driver the vault uses. The async drivers' names, which earlier versions
# used, are still taken, so a DATABASE_URL written for them keeps working.
_DRIVERS = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "sqlite+aiosqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
}
SQLITE_BUSY_TIMEOUT_SECONDS = 15
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
# An engine's execution option: its transactions only read (SQLite then takes no write lock).
READ_ONLY = "dne_read_only"


def mask_password(text: str, url: str = "") -> str:
    """`text` for a message: every URL's password in it shown as *** (`postgresql://user:***@
    host/db`), and `url`'s own password masked wherever else it appears (a driver's message)."""
    masked = redact(text)
    for password in url_passwords(url):
        masked = masked.replace(password, "***")
    return masked


def url_passwords(url: str) -> set[str]:
    """The password of a URL as written and as decoded; none too short to mask by search (the
    URL pattern masks those)."""
    found = set(re.findall(r"://[^:/@\s]*:([^/\s]+)@", url))
    try:
        decoded = make_url(url.strip()).password
    except Exception:  # not a URL: what the pattern found is all there is
        decoded = None
    if decoded:
        found.add(str(decoded))
    return {password for password in found if len(password) >= 4}


def driver_url(text: str) -> str:
    """Maps postgresql://, postgres:// and sqlite:/// URLs to the vault's drivers."""
    try:
        url = make_url(text.strip())
    except Exception as error:  # sqlalchemy raises ArgumentError; say what was wrong in words
        raise ValueError(
            f"DATABASE_URL is not a database URL: {mask_password(str(error), text)}"
        ) from None
    driver = _DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            "DATABASE_URL must be sqlite:/// or postgresql://, found "
            f"{mask_password(url.drivername, text)}://"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


def _prepare_sqlite(engine: Engine) -> None:
    """Durable commits with one fsync each, and writers that queue instead of failing.

    WAL with synchronous=FULL: a commit is on disk when it returns (an intent written before
    an order is sent must survive a crash), at the cost of one fsync instead of the rollback
    journal's several.

    Every writing transaction takes the write lock at BEGIN (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes cannot wait for another writer; SQLite
    answers "database is locked" at once. Taking the lock up front makes concurrent calls
    queue on the busy timeout instead. The driver's own BEGIN is switched off, as SQLAlchemy's
    SQLite documentation describes, which also makes SAVEPOINTs behave.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader sees a WAL snapshot and never waits for the writer.
        read_only = connection.get_execution_options().get(READ_ONLY)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_engine(url_text: str, **engine_options: Any) -> Engine:
    """An engine for a plain or driver URL; creates a SQLite file's directory."""
    url = make_url(driver_url(url_text))
    if url.get_backend_name() == "sqlite":
        # The store's worker threads share the pool's connections, one at a time each.
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:
            # One connection, or each thread would open a database of its own.
            engine_options.setdefault("poolclass", StaticPool)
        engine = create_sqlalchemy_engine(url, connect_args=connect_args, **engine_options)
        _prepare_sqlite(engine)
        return engine
    return create_sqlalchemy_engine(
        url, connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        pool_pre_ping=True, **engine_options,
    )
