"""Database URLs and engines: SQLite (default, a file) or PostgreSQL (by URL), both async."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.common.logs import redact

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'vault.db'}"

# Plain URLs name no driver; the vault is async, so each maps to its async driver.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
SQLITE_BUSY_TIMEOUT_SECONDS = 15
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


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


def async_database_url(text: str) -> str:
    """Maps postgresql://, postgres:// and sqlite:/// URLs to their async drivers."""
    try:
        url = make_url(text.strip())
    except Exception as error:  # sqlalchemy raises ArgumentError; say what was wrong in words
        raise ValueError(
            f"DATABASE_URL is not a database URL: {mask_password(str(error), text)}"
        ) from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            "DATABASE_URL must be sqlite:/// or postgresql://, found "
            f"{mask_password(url.drivername, text)}://"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


def _libpq_options_to_server_settings(options: str) -> dict[str, str]:
    """libpq's `options=-c search_path=x` as asyncpg's server_settings {"search_path": "x"}."""
    settings: dict[str, str] = {}
    words = shlex.split(options)
    for index, word in enumerate(words):
        setting = word[2:] if word.startswith("-c") and len(word) > 2 else None
        if word == "-c" and index + 1 < len(words):
            setting = words[index + 1]
        if setting and "=" in setting:
            name, value = setting.split("=", 1)
            settings[name.replace("-", "_")] = value
    return settings


def _postgres_connect_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """Moves the libpq-only query parameters that asyncpg does not take into connect args."""
    query = dict(url.query)
    connect_args: dict[str, Any] = {"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS}
    options = query.pop("options", None)
    if options:
        text = options if isinstance(options, str) else " ".join(options)
        connect_args["server_settings"] = _libpq_options_to_server_settings(text)
    sslmode = query.pop("sslmode", None)
    if sslmode:
        query["ssl"] = sslmode
    return url.set(query=query), connect_args


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """Durable commits with one fsync each, and writers that queue instead of failing.

    WAL with synchronous=FULL: a commit is on disk when it returns (an intent written before
    an order is sent must survive a crash), at the cost of one fsync instead of the rollback
    journal's several.

    Every transaction takes the write lock at BEGIN (BEGIN IMMEDIATE).

    A deferred transaction that reads and then writes cannot wait for another writer; SQLite
    answers "database is locked" at once. Taking the lock up front makes concurrent calls
    queue on the busy timeout instead. The driver's own BEGIN is switched off, as SQLAlchemy's
    SQLite documentation describes, which also makes SAVEPOINTs behave.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(database_url: str, **engine_options: Any) -> AsyncEngine:
    """An async engine for a plain or async URL; creates a SQLite file's directory."""
    url = make_url(async_database_url(database_url))
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, **engine_options
        )
        _prepare_sqlite(engine)
        return engine
    url, connect_args = _postgres_connect_args(url)
    return create_async_engine(
        url, connect_args=connect_args, pool_pre_ping=True, **engine_options
    )
