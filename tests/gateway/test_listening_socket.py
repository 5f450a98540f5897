"""The gateway's own listening socket (made for its bounded send buffer) must still give every
accepted connection TCP_NODELAY: asyncio sets it only on IPPROTO_TCP sockets, and without it
each small answer waited ~40 ms for the client's delayed ACK (issue 12)."""

from __future__ import annotations

import asyncio
import socket
import time

import websockets

from services.gateway.__main__ import SEND_BUFFER_BYTES, bind
from tests.gateway.test_http_parser import lifespan, serving


async def accepted_socket_options() -> tuple[int, int]:
    listening = bind("127.0.0.1", 0)
    accepted: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result((sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                             sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        options = await asyncio.wait_for(accepted, 5)
        writer.close()
        return options
    finally:
        server.close()
        await server.wait_closed()


async def test_an_accepted_connection_has_nodelay_and_the_bounded_send_buffer():
    nodelay, send_buffer = await accepted_socket_options()
    assert nodelay, "TCP_NODELAY is off: small answers wait for the peer's delayed ACK"
    # Linux doubles the value asked for, to account for its bookkeeping.
    assert SEND_BUFFER_BYTES <= send_buffer <= 2 * SEND_BUFFER_BYTES


async def test_answers_on_one_keep_alive_connection_take_milliseconds_not_a_delayed_ack():
    request = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi"
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        timings = []
        for _ in range(30):
            started = time.perf_counter()
            writer.write(request)   # headers and body leave the server in two writes
            async with asyncio.timeout(5):
                await reader.readuntil(b"\r\n\r\n")
                assert await reader.readexactly(2) == b"hi"
            timings.append(time.perf_counter() - started)
        writer.close()
    median = sorted(timings)[len(timings) // 2]
    assert median < 0.015, f"median {median * 1e3:.1f} ms: the answer's second write waited"


async def accept_websocket(scope, receive, send):  # type: ignore[no-untyped-def]
    """A bare ASGI app that accepts a WebSocket and waits for the client to leave."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def test_websockets_are_not_compressed_so_a_browser_costs_half_the_memory():
    """A browser offers permessage-deflate; the gateway declines it (issue 12: a compressor
    and a decompressor per connection took 1000 browsers' gateway past 150 MB)."""
    async with serving(accept_websocket) as port:
        url = f"ws://127.0.0.1:{port}/"
        async with websockets.connect(url, compression="deflate") as connection:
            assert connection.request_headers["Sec-WebSocket-Extensions"]  # offered
            assert "Sec-WebSocket-Extensions" not in connection.response_headers
            assert connection.extensions == []
