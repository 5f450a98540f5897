"""The floor: the least a gRPC call and a FastAPI-over-gRPC request can cost on this machine.

`python -m bench.floor grpc` serves a bare grpc.aio echo: its request is the size of the answer
wanted, in ASCII, so one server stands in for calls of any size (ListFundingMarkets' few KB,
GetEngineStatus' few hundred bytes). `python -m bench.floor http ECHO_ADDRESS` serves a bare
FastAPI app with the gateway's own socket and uvicorn settings, whose /proxy calls the echo and
whose /ws browsers get each frame /fanout sends them (the floor of the gateway's fan-out).
Each prints `listening on HOST:PORT` first, as the services do, and serves until SIGTERM.
With OTEL_EXPORTER_OTLP_ENDPOINT set, each is traced as the services are (the same
interceptors and request spans): the floor of tracing's cost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import grpc
from fastapi import FastAPI, Response, WebSocket, WebSocketDisconnect

from services.common.telemetry import client_interceptors, server_interceptors, setup_tracing
from services.gateway.__main__ import GatewayServer, bind, server_config
from services.gateway.app import WITHOUT_NATIVE_TELEMETRY, trace_requests

ECHO_METHOD = "/bench.floor.Echo/Echo"


def _identity(data: bytes) -> bytes:
    return data


async def _answer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return b"x" * int(request)


def echo_stub(channel: grpc.aio.Channel) -> grpc.aio.UnaryUnaryMultiCallable:
    """Call it with the answer's size as bytes, e.g. stub(b"3300")."""
    return channel.unary_unary(ECHO_METHOD, request_serializer=_identity,
                               response_deserializer=_identity)


def _trace_as(name: str) -> None:
    setup_tracing(name, os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


Answer = Callable[[bytes, grpc.aio.ServicerContext], Awaitable[bytes]]


def add_echo_method(server: grpc.aio.Server, answer: Answer) -> None:
    """Serves ECHO_METHOD on `server` with `answer`, raw bytes in and out."""
    handler = grpc.unary_unary_rpc_method_handler(
        answer, request_deserializer=_identity, response_serializer=_identity)
    service, method = ECHO_METHOD.strip("/").split("/")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: handler}),))


async def serve_until_sigterm(answer: Answer,
                              interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
    """ECHO_METHOD answered by `answer` on 127.0.0.1:0; prints the address, serves until
    SIGTERM."""
    server = grpc.aio.server(interceptors=list(interceptors))
    add_echo_method(server, answer)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


async def serve_echo() -> None:
    _trace_as("floor-grpc")
    await serve_until_sigterm(_answer, server_interceptors())


def proxy_app(echo_address: str) -> FastAPI:
    """/static answers without a backend call (the floor of /api/config); /proxy?size=N makes
    one echo call and answers its bytes (the floor of /api/drift/markets and /health)."""
    _trace_as("floor-http")
    app = FastAPI(telemetry=WITHOUT_NATIVE_TELEMETRY)
    trace_requests(app)
    channel = grpc.aio.insecure_channel(echo_address, interceptors=client_interceptors())
    echo = echo_stub(channel)

    @app.get("/static")
    async def static() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    @app.get("/proxy")
    async def proxy(size: int) -> Response:
        return Response(await echo(str(size).encode()), media_type="application/json")

    browsers: set[WebSocket] = set()

    @app.websocket("/ws")
    async def browser(socket: WebSocket) -> None:
        await socket.accept()
        browsers.add(socket)
        try:
            while True:
                await socket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            browsers.discard(socket)

    @app.get("/fanout")
    async def fanout(size: int) -> Response:
        """One frame of `size` bytes to every browser at once, stamped with this machine's
        monotonic clock (the bench reads the same clock) when the sending starts."""
        stamp = repr(time.monotonic())
        frame = json.dumps({"type": "FUNDING_UPDATE", "payload": {"timestamp": stamp}})
        frame = frame[:-2] + ', "pad": "' + "x" * max(0, size - len(frame) - 11) + '"}}'
        await asyncio.gather(*(socket.send_text(frame) for socket in list(browsers)),
                             return_exceptions=True)
        return Response(b'{"ok":true}', media_type="application/json")

    return app


async def serve_proxy(echo_address: str) -> None:
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    await GatewayServer(server_config(proxy_app(echo_address))).serve(sockets=[sock])


def main(argv: list[str]) -> int:
    if argv[:1] == ["grpc"]:
        asyncio.run(serve_echo())
    elif argv[:1] == ["http"] and len(argv) == 2:
        asyncio.run(serve_proxy(argv[1]))
    else:
        print("usage: python -m bench.floor grpc | http ECHO_ADDRESS", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
