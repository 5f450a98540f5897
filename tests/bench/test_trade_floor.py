"""The trade's floor makes the calls bench/trade_floor.py documents: one trade reaches the feed
3 times (2 of them through the executor's 2 calls) and the vault 3 times; with the trade itself,
the 9 calls of an OpenPosition (tests/observability/test_trade_calls.py counts the real
system's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from bench.floor import add_echo_method, echo_stub
from bench.floor_processes import start_process, stop_processes


@asynccontextmanager
async def counting_echo(name: str, calls: Counter[str]) -> AsyncIterator[str]:
    """An echo in this process that counts what it answers under `name`."""
    async def answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        calls[name] += 1
        return b"x" * int(request)

    server = grpc.aio.server()
    add_echo_method(server, answer)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def test_one_trade_makes_the_calls_of_an_open_position() -> None:
    calls: Counter[str] = Counter()
    processes = []
    async with counting_echo("feed", calls) as feed, counting_echo("vault", calls) as vault:
        try:
            executor_process, executor = await start_process("executor", feed, env={},
                                                      module="bench.trade_floor")
            processes.append(executor_process)
            engine_process, engine = await start_process("engine", feed, executor, vault, env={},
                                                  module="bench.trade_floor")
            processes.append(engine_process)
            async with grpc.aio.insecure_channel(engine) as channel:
                answer = await echo_stub(channel)(b"trade")
        finally:
            await stop_processes(processes)
    assert len(answer) == 200
    assert calls == {"feed": 3, "vault": 3}
