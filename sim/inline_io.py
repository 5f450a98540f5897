"""Blocking I/O run inline in the event loop, for the length of one schedule.

The vault store and asyncio.to_thread hand work to threads, and a thread's finishing time
decides which coroutine resumes first. Run inline, every await that is not a link's own is
immediate, so one seed replays the same interleaving on any machine (and faster: no thread
hops)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


async def run_inline(work: Callable[[], T]) -> T:
    """The vault store's `run`: the transaction is done here, not on a worker thread."""
    return work()


async def _to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


@contextlib.contextmanager
def inline_io() -> Iterator[None]:
    saved = asyncio.to_thread
    asyncio.to_thread = _to_thread  # type: ignore[assignment]
    try:
        yield
    finally:
        asyncio.to_thread = saved  # type: ignore[assignment]
