"""Starts the floor's two servers as child processes, as the real services run."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Floor:
    echo_address: str       # grpc.aio echo
    proxy_address: str      # FastAPI + uvicorn proxying to the echo
    pids: dict[str, int]


async def start_process(*args: str, env: Mapping[str, str],
                 module: str = "bench.floor") -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **env})
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"{module} {' '.join(args)} did not start: {line!r}")
    return process, line.removeprefix("listening on ")


async def _accepting(address: str, timeout: float = 30.0) -> None:
    """uvicorn listens only once it serves, a moment after the address is printed."""
    host, port = address.rsplit(":", 1)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


async def stop_processes(processes: list[asyncio.subprocess.Process]) -> None:
    for process in reversed(processes):
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@asynccontextmanager
async def running_floor(env: Mapping[str, str] | None = None) -> AsyncIterator[Floor]:
    """`env`: more environment for both servers (OTEL_EXPORTER_OTLP_ENDPOINT traces them)."""
    processes: list[asyncio.subprocess.Process] = []
    try:
        echo, echo_address = await start_process("grpc", env=env or {})
        processes.append(echo)
        proxy, proxy_address = await start_process("http", echo_address, env=env or {})
        processes.append(proxy)
        await _accepting(proxy_address)
        yield Floor(echo_address, proxy_address, {"floor_grpc": echo.pid, "floor_http": proxy.pid})
    finally:
        await stop_processes(processes)


@asynccontextmanager
async def running_trade_floor() -> AsyncIterator[str]:
    """bench/trade_floor.py's four processes (feed and vault echo, executor and engine relays);
    answers the engine relay's address."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(*args: str, module: str = "bench.floor") -> str:
        process, address = await start_process(*args, env={}, module=module)
        processes.append(process)
        return address

    try:
        feed = await start("grpc")
        vault = await start("grpc")
        executor = await start("executor", feed, module="bench.trade_floor")
        yield await start("engine", feed, executor, vault, module="bench.trade_floor")
    finally:
        await stop_processes(processes)
