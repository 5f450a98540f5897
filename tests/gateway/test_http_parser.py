"""The gateway parses HTTP/1.1 with httptools (llhttp), never with h11: driftpy pins h11 0.14.0,
which takes any two bytes after a chunk's data as its CRLF (CVE-2025-43859). Behind a proxy that
reads the same body another way, that lets one request hide a second one (request smuggling)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.types import ASGIApp

from services.gateway.__main__ import bind, server_config

CHUNKED_POST = (
    b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: close\r\n\r\n"
)


async def lifespan(receive, send) -> None:  # type: ignore[no-untyped-def]
    """What a bare ASGI app answers to uvicorn's start-up and shutdown."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def echo(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp | None = None) -> AsyncIterator[int]:
    """The gateway's own server settings around `app`, by default one that echoes the body it
    was given; yields the port."""
    sock = bind("127.0.0.1", 0)
    server = Server(server_config(app or echo))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            await server.listening.wait()
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


def test_the_gateway_asks_uvicorn_for_httptools_not_auto():
    # "auto" falls back to h11 without a word when httptools is missing; "httptools" fails.
    assert server_config(echo).http == "httptools"


async def test_a_well_formed_chunked_body_is_read_whole():
    async with serving() as port:
        answer = await exchange(port, CHUNKED_POST + b"5\r\nhello\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"\r\n\r\nhello")


async def test_a_chunk_not_ended_by_crlf_is_refused_with_400():
    async with serving() as port:
        answer = await exchange(port, CHUNKED_POST + b"5\r\nhelloXX0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"hello" not in answer
