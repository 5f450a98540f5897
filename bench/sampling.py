"""How a path is timed: closed loop (one request after another) and open loop (requests sent on
a fixed schedule whatever the answers do, so a slow answer delays the ones behind it too)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

Call = Callable[[], Awaitable[object]]


async def closed_loop(call: Call, samples: int, warmup: int = 50) -> list[float]:
    """`samples` latencies in ms, one call at a time, after `warmup` calls not counted."""
    for _ in range(warmup):
        await call()
    latencies: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def in_turn(calls: Mapping[str, Call], samples: int,
                  warmup: int = 50) -> dict[str, list[float]]:
    """Closed loops of several calls taken in turn, one of each per round: the VM's drift falls
    on all of them alike, so their differences and ratios hold (sampled one loop after the
    other, a floor and its path could land an hour's speed change apart)."""
    for _ in range(warmup):
        for call in calls.values():
            await call()
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(samples):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            latencies[name].append((time.perf_counter() - started) * 1000)
    return latencies


async def open_loop(call: Call, per_second: float, seconds: float,
                    ) -> tuple[list[float], list[str]]:
    """Latencies in ms measured from each request's scheduled start (a late start counts
    against the server: no coordinated omission), and what each failed call raised."""
    latencies: list[float] = []
    errors: list[str] = []

    async def one(scheduled: float) -> None:
        try:
            await call()
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    interval = 1 / per_second
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for index in range(int(per_second * seconds)):
        scheduled = start + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    return latencies, errors


async def throughput(call: Call, seconds: float, concurrency: int = 4) -> float:
    """Calls completed per second by `concurrency` loops calling back to back."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)
