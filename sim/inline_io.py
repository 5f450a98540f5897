"""Blocking I/O run inline in the event loop, for the length of one schedule.

aiosqlite and asyncio.to_thread hand work to threads, and a thread's finishing time decides
which coroutine resumes first. Run inline, every await that is not a link's own is immediate,
so one seed replays the same interleaving on any machine (and faster: no thread hops)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import aiosqlite.core
import sqlalchemy.connectors.asyncio
import sqlalchemy.dialects.sqlite.aiosqlite


class _InlineQueue:
    """aiosqlite's queue to its worker thread, except the work is done as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting caller, as the thread would
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


def _await(self: Any) -> Any:
    return self._connect().__await__()  # no worker thread is started


async def _to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _await_now(awaitable: Any) -> Any:
    """SQLAlchemy's await_ for the aiosqlite adapter: the awaitable is already finished work
    (inline above), so it is run to its end here instead of through a greenlet switch."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    steps.close()
    raise RuntimeError("an inline database call suspended; the sim cannot replay it")


@contextlib.contextmanager
def inline_io() -> Iterator[None]:
    patches = {
        (aiosqlite.core, "SimpleQueue"): _InlineQueue,
        (aiosqlite.core.Connection, "__await__"): _await,
        (asyncio, "to_thread"): _to_thread,
        (sqlalchemy.connectors.asyncio, "await_"): _await_now,
        (sqlalchemy.dialects.sqlite.aiosqlite, "await_"): _await_now,
    }
    saved = {target: getattr(*target) for target in patches}
    for (owner, name), replacement in patches.items():
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for (owner, name), original in saved.items():
            setattr(owner, name, original)
