"""Starts the three HTTP servers (JSON-RPC + its WebSocket, Data API, swap) on loopback."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from services.venue_sim.data_api import data_api_app
from services.venue_sim.rpc import rpc_app, ws_app
from services.venue_sim.swap_api import swap_api_app
from services.venue_sim.venue import Venue

PORT_PAIR_ATTEMPTS = 20
# Open requests get this long to finish when the stand-in stops.
SHUTDOWN_SECONDS = 1.0


@dataclass
class RunningVenueSim:
    venue: Venue
    host: str
    rpc_port: int
    data_api_port: int
    swap_port: int
    runners: list[web.AppRunner] = field(default_factory=list)

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.rpc_port + 1}"

    @property
    def data_api_url(self) -> str:
        return f"http://{self.host}:{self.data_api_port}"

    @property
    def swap_url(self) -> str:
        return f"http://{self.host}:{self.swap_port}"

    async def stop(self) -> None:
        for runner in reversed(self.runners):
            await runner.cleanup()
        self.runners.clear()


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    # auto_decompress off: driftpy posts plain JSON under a "Content-Encoding: gzip" header.
    runner = web.AppRunner(app, auto_decompress=False, access_log=None,
                           shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


async def _serve_rpc_pair(venue: Venue, host: str, port: int) -> tuple[list[web.AppRunner], int]:
    """JSON-RPC on `port` and its WebSocket on `port` + 1 (0: find a free pair)."""
    attempts = 1 if port else PORT_PAIR_ATTEMPTS
    for _ in range(attempts):
        candidate = port or _free_port(host)
        if candidate >= 65535:
            continue
        try:
            rpc_runner, bound = await _serve(rpc_app(venue), host, candidate)
        except OSError:
            if port:
                raise
            continue
        try:
            ws_runner, _ = await _serve(ws_app(venue), host, bound + 1)
        except OSError:
            await rpc_runner.cleanup()
            if port:
                raise
            continue
        return [rpc_runner, ws_runner], bound
    raise OSError(f"no free pair of ports (RPC, RPC + 1) on {host}")


async def start_venue_sim(
    venue: Venue,
    data_dir: Path,
    host: str = "127.0.0.1",
    rpc_port: int = 0,
    data_api_port: int = 0,
    swap_port: int = 0,
) -> RunningVenueSim:
    runners, bound_rpc = await _serve_rpc_pair(venue, host, rpc_port)
    try:
        data_runner, bound_data = await _serve(data_api_app(venue.store, data_dir), host,
                                               data_api_port)
        runners.append(data_runner)
        swap_runner, bound_swap = await _serve(swap_api_app(venue), host, swap_port)
        runners.append(swap_runner)
    except BaseException:
        for runner in runners:
            await runner.cleanup()
        raise
    return RunningVenueSim(venue, host, bound_rpc, bound_data, bound_swap, runners)
