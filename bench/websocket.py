"""WebSocket workloads: a command's answer, and one FUNDING_UPDATE fanned out to many browsers.

A fan-out's latency is each browser's arrival minus the arrival of the same update (keyed by
its market timestamp) on a direct gRPC StreamEvents subscription to the engine, in this same
process: what the gateway adds between the engine's stream and the browser."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator

import grpc
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import WebSocketURI, parse_uri

from bench.http_client import KeepAlive
from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from services.gateway.wire import iso


class Reader(asyncio.Protocol):
    """A browser at its socket: each read is stamped as it arrives and parsed by websockets'
    sans-I/O protocol (which answers the server's pings), with no task or queue per browser.
    A thousand of them in one process used to cost that process 0.2-0.3 ms a frame through
    websockets' asyncio client, so the last browser stamped an update some 250 ms after the
    first: the client's own queue, on the floor as on the gateway."""

    def __init__(self, uri: WebSocketURI) -> None:
        self.protocol = ClientProtocol(uri, max_size=2**22)
        self.frames: list[tuple[float, bytes]] = []
        self.transport: asyncio.Transport | None = None
        self._opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, url: str) -> Reader:
        uri = parse_uri(url)
        _, reader = await asyncio.get_running_loop().create_connection(
            lambda: cls(uri), uri.host, uri.port)
        await reader._opened
        return reader

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._send()

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self._answered()
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.frames.append((arrived, event.data))
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._opened.done():
            self._opened.set_exception(ConnectionError(f"closed before the handshake: {exc}"))

    def _answered(self) -> None:
        if self._opened.done():
            return
        if self.protocol.handshake_exc is not None:
            self._opened.set_exception(self.protocol.handshake_exc)
        else:
            self._opened.set_result(None)

    def _send(self) -> None:
        assert self.transport is not None
        for chunk in self.protocol.data_to_send():
            if chunk and not self.transport.is_closing():
                self.transport.write(chunk)

    def funding_arrivals(self, after: int) -> dict[str, float]:
        """Market timestamp of each FUNDING_UPDATE -> its first arrival."""
        arrivals: dict[str, float] = {}
        for stamp, frame in self.frames[after:]:
            message = json.loads(frame)
            if message["type"] == "FUNDING_UPDATE":
                arrivals.setdefault(message["payload"]["timestamp"], stamp)
        return arrivals

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def command_latencies(url: str, commands: list[tuple[str, dict[str, object]]],
                            samples: int, warmup: int = 20) -> list[float]:
    """Sends the commands in turn, one at a time, and times each COMMAND_RESULT, in ms."""
    latencies: list[float] = []
    async with websockets.connect(url, max_size=2**22) as connection:
        for index in range(warmup + samples):
            action, payload = commands[index % len(commands)]
            ident = f"bench-{uuid.uuid4().hex[:12]}"
            started = time.perf_counter()
            await connection.send(json.dumps({"action": action, "id": ident,
                                              "payload": payload}))
            while True:
                message = json.loads(await connection.recv())
                if message["type"] == "COMMAND_RESULT" and message.get("id") == ident:
                    break
            if index >= warmup:
                latencies.append((time.perf_counter() - started) * 1000)
            if not message["payload"].get("ok", False):
                raise RuntimeError(f"{action} failed: {message['payload']}")
    return latencies


async def _engine_stream(stub: engine_pb2_grpc.EngineServiceStub,
                         arrivals: dict[str, float]) -> None:
    async for response in stub.StreamEvents(engine_pb2.StreamEventsRequest()):
        if response.event.HasField("funding_update"):
            stamp = iso(response.event.funding_update.timestamp)
            if stamp is not None:
                arrivals.setdefault(stamp, time.perf_counter())


@contextlib.asynccontextmanager
async def readers(url: str, count: int) -> AsyncIterator[list[Reader]]:
    opened: list[Reader] = []
    try:
        for _ in range(count):
            opened.append(await Reader.open(url))
        yield opened
    finally:
        await asyncio.gather(*(reader.close() for reader in opened), return_exceptions=True)


async def stalled_browser(url: str, address: str) -> websockets.WebSocketClientProtocol:
    """A browser that reads its greeting, then nothing: a small receive buffer, reading paused
    (as tests/gateway/test_fanout.py builds it)."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = address.rsplit(":", 1)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (host, int(port)))
    stalled = await websockets.connect(url, sock=raw, max_queue=1)
    await stalled.recv()
    stalled.transport.pause_reading()
    return stalled


async def fanout_latencies(engine: engine_pb2_grpc.EngineServiceStub, clients: list[Reader],
                           seconds: float) -> list[float]:
    """Each browser's delay behind the engine's own stream, for every FUNDING_UPDATE of the
    next `seconds`; an update a browser never got is not a latency (it shows as fewer
    samples)."""
    direct: dict[str, float] = {}
    marks = [len(client.frames) for client in clients]
    follower = asyncio.create_task(_engine_stream(engine, direct))
    await asyncio.sleep(seconds)
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
        await follower
    await asyncio.sleep(0.5)   # the last update's frames still in flight to the browsers
    latencies: list[float] = []
    for client, mark in zip(clients, marks, strict=True):
        for stamp, arrived in client.funding_arrivals(mark).items():
            if stamp in direct:
                latencies.append((arrived - direct[stamp]) * 1000)
    return latencies


async def floor_fanout_latencies(floor_address: str, clients: list[Reader], frame_size: int,
                                 seconds: float, interval: float = 0.5) -> list[float]:
    """The floor's fan-out: a frame of `frame_size` bytes sent by a bare FastAPI app to every
    browser every `interval` s; each arrival minus the moment the app began sending."""
    marks = [len(client.frames) for client in clients]
    sender = await KeepAlive.open(floor_address)
    try:
        for _ in range(max(1, round(seconds / interval))):
            await sender.get(f"/fanout?size={frame_size}")
            await asyncio.sleep(interval)
    finally:
        sender.close()
    await asyncio.sleep(0.5)   # the last frames still in flight
    return [(arrived - float(stamp)) * 1000
            for client, mark in zip(clients, marks, strict=True)
            for stamp, arrived in client.funding_arrivals(mark).items()]


def funding_frame_size(clients: list[Reader]) -> int:
    """The size of the last FUNDING_UPDATE frame a browser got (the floor sends the same)."""
    for _, frame in reversed(clients[0].frames):
        if json.loads(frame)["type"] == "FUNDING_UPDATE":
            return len(frame)
    return 3000
