"""The floor of a paper trade: the same gRPC calls, in the same order and the same overlap, made
by bare grpc.aio servers that do nothing else.

One OpenPosition, as its trace shows it (bench/spans.py) and tests/observability/
test_trade_calls.py counts it, is 9 calls across four processes:

1. in parallel: the vault's lookup of the request id, the venue's status with the account (one
   call, which asks the feed's clock) and the markets table carrying both prices (4.3 KB);
2. the vault's intent;
3. the order (one feed call: the clock carrying the fill's price), whose answer carries the
   account the fill left;
4. the vault's completion, which syncs that account in the same transaction (the update after
   it shows the hedge price the gates read).

`python -m bench.trade_floor executor FEED` serves the executor's part (each call asks the feed
echo once) and
`python -m bench.trade_floor engine FEED EXECUTOR VAULT` the engine's: one call runs the whole
graph. The feed and the vault are bench/floor.py's echo. Each prints `listening on HOST:PORT`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import grpc

from bench.floor import echo_stub, serve_until_sigterm

Echo = Callable[[bytes], Awaitable[bytes]]
SMALL = b"200"           # most answers are a few hundred bytes
TABLE = b"4286"          # ListFundingMarkets with two prices


def _stub(address: str) -> Echo:
    return echo_stub(grpc.aio.insecure_channel(address))


async def serve_executor(feed_address: str) -> None:
    feed = _stub(feed_address)

    async def answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await feed(SMALL)
        return b"x" * int(SMALL)

    await serve_until_sigterm(answer)


async def serve_engine(feed_address: str, executor_address: str, vault_address: str) -> None:
    feed, executor, vault = (_stub(a) for a in (feed_address, executor_address, vault_address))

    async def trade(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await asyncio.gather(vault(SMALL), executor(SMALL), feed(TABLE))
        await vault(SMALL)
        await executor(SMALL)
        await vault(SMALL)
        return b"x" * int(SMALL)

    await serve_until_sigterm(trade)


def main(argv: list[str]) -> int:
    if argv[:1] == ["executor"] and len(argv) == 2:
        asyncio.run(serve_executor(argv[1]))
    elif argv[:1] == ["engine"] and len(argv) == 4:
        asyncio.run(serve_engine(*argv[1:]))
    else:
        print("usage: python -m bench.trade_floor executor FEED | engine FEED EXECUTOR VAULT",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
