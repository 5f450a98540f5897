"""What the bench measures, against which floor and target (issue 12). Each function measures
one group of paths on a running system and answers its rows."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from bench.floor import echo_stub
from bench.floor_processes import Floor
from bench.histograms import mean_ms, read_totals
from bench.pool import ConnectionPool
from bench.processes import cpu_seconds, idle_cpu_percent, rss_mb
from bench.sampling import Call, closed_loop, in_turn, open_loop, throughput
from bench.spans import hops
from bench.stats import Overhead, Row, Target, percentile
from bench.system import pids
from bench.websocket import (
    command_latencies,
    fanout_latencies,
    floor_fanout_latencies,
    funding_frame_size,
    readers,
    stalled_browser,
)
from dne.engine.v1 import engine_pb2
from dne.feed.v1 import feed_pb2
from services.gateway.settings import GatewaySettings
from tests.integration.flow import request_id
from tests.kit.confirmations import confirm_stub
from tests.kit.gateway_client import ws_url
from tests.kit.otlp_receiver import SpanStore
from tests.kit.system import RunningSystem

HOP_HISTOGRAM = "dne_engine_trade_hop_seconds"
OVERHEAD = (Target("p50", 0.5), Target("p99", 2.0))


@dataclass(frozen=True)
class Settings:
    samples: int = 1000           # per closed-loop path; p99 needs at least 200
    load_seconds: float = 30.0    # the open-loop run
    load_per_minute: int = 10_000
    fanout_seconds: float = 15.0   # 30 updates at the 0.5 s tick: a p99 not set by one
    idle_seconds: float = 30.0


async def grpc_paths(running: RunningSystem, floor: Floor, settings: Settings) -> list[Row]:
    stubs = running.stubs
    markets = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    status = await stubs.engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest())
    rows: list[Row] = []
    async with grpc.aio.insecure_channel(floor.echo_address) as channel:
        echo = echo_stub(channel)
        for name, call, size in (
            ("gRPC feed.ListFundingMarkets", lambda: stubs.feed.ListFundingMarkets(
                feed_pb2.ListFundingMarketsRequest()), markets.ByteSize()),
            ("gRPC engine.GetEngineStatus", lambda: stubs.engine.GetEngineStatus(
                engine_pb2.GetEngineStatusRequest()), status.ByteSize()),
        ):
            request = str(size).encode()
            taken = await in_turn({"floor": lambda r=request: echo(r), "real": call},
                                  settings.samples)
            floor_row = Row(f"floor: grpc.aio echo, {size} B", taken["floor"])
            rows += [floor_row, Row(name, taken["real"], floor=floor_row)]
    rows.append(Row("gRPC engine.GetBackendHealth", await closed_loop(
        lambda: stubs.engine.GetBackendHealth(engine_pb2.GetBackendHealthRequest()),
        settings.samples), note="what /health reads"))
    return rows


async def rest_paths(running: RunningSystem, floor: Floor, settings: Settings) -> list[Row]:
    """Each gateway path in turn with its floor and with the gRPC call it makes, one of each
    per round: the overhead is the gateway's and not the VM's drift between two loops."""
    gateway = ConnectionPool(running.system.address("gateway"), running.api_token)
    bare = ConnectionPool(floor.proxy_address, None)
    stubs = running.stubs
    sizes = {path: len(await gateway.get(path)) for path in ("/api/drift/markets", "/health")}
    rows: list[Row] = []
    try:
        taken = await in_turn({"static": lambda: bare.get("/static"),
                               "config": lambda: gateway.get("/api/config")}, settings.samples)
        static = Row("floor: FastAPI, no backend call", taken["static"])
        config = Row("GET /api/config", taken["config"], floor=static,
                     targets=OVERHEAD, note="no backend call: all of it is gateway")
        rows += [static, config]
        async with grpc.aio.insecure_channel(floor.echo_address) as channel:
            echo = echo_stub(channel)
            for path, backend, direct_call in (
                ("/api/drift/markets", "feed.ListFundingMarkets",
                 lambda: stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())),
                ("/health", "engine.GetBackendHealth",
                 lambda: stubs.engine.GetBackendHealth(engine_pb2.GetBackendHealthRequest())),
            ):
                asked = str(sizes[path]).encode()
                rows += await _gateway_path(path, backend, {
                    "floor": lambda p=f"/proxy?size={sizes[path]}": bare.get(p),
                    "echo": lambda r=asked: echo(r),
                    "real": lambda p=path: gateway.get(p),
                    "direct": direct_call}, sizes[path], settings.samples)
    finally:
        gateway.close()
        bare.close()
    return rows


async def _gateway_path(path: str, backend: str, calls: dict[str, Call], size: int,
                        samples: int) -> list[Row]:
    """The path, its gRPC call, the floor's proxy and the floor's echo, in turn; the gateway's
    overhead beside what the bare FastAPI app adds over the bare echo."""
    taken = await in_turn(calls, samples)
    floor_row = Row(f"floor: FastAPI -> grpc echo, {size} B", taken["floor"])
    echo = Row(f"  floor: grpc.aio echo, {size} B, in turn", taken["echo"])
    real = Row(f"GET {path}", taken["real"], floor=floor_row)
    direct = Row(f"  gRPC {backend}, in turn with GET {path}", taken["direct"])
    return [floor_row, echo, Overhead(f"  floor overhead: FastAPI -> echo - echo, {size} B",
                                      whole=floor_row, part=echo),
            real, direct, Overhead(f"  gateway overhead: GET {path} - gRPC {backend}",
                                   targets=OVERHEAD, whole=real, part=direct)]


OPEN_LOAD_ROUNDS = 3


async def open_load(running: RunningSystem, floor: Floor, settings: Settings) -> list[Row]:
    """The markets path and the floor's proxy of the same size under the same open load, in
    alternate rounds: what the load costs a bare FastAPI app on this machine, beside the
    gateway's."""
    gateway = ConnectionPool(running.system.address("gateway"), running.api_token)
    bare = ConnectionPool(floor.proxy_address, None)
    size = len(await gateway.get("/api/drift/markets"))
    calls = {"floor": lambda: bare.get(f"/proxy?size={size}"),
             "real": lambda: gateway.get("/api/drift/markets")}
    latencies: dict[str, list[float]] = {name: [] for name in calls}
    errors: dict[str, list[str]] = {name: [] for name in calls}
    try:
        for call in calls.values():
            await closed_loop(call, 0, warmup=100)
        for _ in range(OPEN_LOAD_ROUNDS):
            for name, call in calls.items():
                taken, failed = await open_loop(call, settings.load_per_minute / 60,
                                                settings.load_seconds / OPEN_LOAD_ROUNDS)
                latencies[name] += taken
                errors[name] += failed
    finally:
        gateway.close()
        bare.close()
    load = f"open loop {settings.load_per_minute}/min x {settings.load_seconds:g} s"

    def note(name: str) -> str:
        return ("latency from each request's scheduled start; "
                f"{OPEN_LOAD_ROUNDS} rounds in turn with the "
                + ("gateway's" if name == "floor" else "floor's")
                + (f"; first error: {errors[name][0]}" if errors[name] else ""))

    floor_row = Row(f"floor: FastAPI -> grpc echo, {size} B, {load}", latencies["floor"],
                    errors=len(errors["floor"]), note=note("floor"))
    return [floor_row,
            Row(f"GET /api/drift/markets {load}", latencies["real"], floor=floor_row,
                targets=(Target("p99", 5.0),), errors=len(errors["real"]), note=note("real"))]


async def websocket_paths(running: RunningSystem, settings: Settings) -> list[Row]:
    url = ws_url(running)
    command = (Target("p50", 10.0),)
    ping = await command_latencies(url, [("PING", {})], settings.samples)
    deposit = await command_latencies(url, [("DRIFT_DEPOSIT", {"amount": "1"})],
                                      max(200, settings.samples // 4))
    trade = await command_latencies(url, [
        ("DRIFT_OPEN_POSITION", {"market": "BTC-PERP", "direction": "short",
                                 "size": "0.0005"}),
        ("DRIFT_CLOSE_POSITION", {"market": "BTC-PERP"})], max(200, settings.samples // 4))
    return [Row("WS PING -> COMMAND_RESULT", ping, targets=command),
            Row("WS DRIFT_DEPOSIT -> COMMAND_RESULT", deposit, targets=command),
            Row("WS open/close BTC-PERP -> COMMAND_RESULT", trade, targets=command,
                note="alternating open and close")]


# Rounds of three windows in turn: without, with a stalled browser, and with one more browser
# that reads (the control: what any extra browser costs the others). Five rounds of two
# windows read medians from -9 % to +37 % across runs, single rounds -23 % to +462 %.
STALL_ROUNDS = 10
# Each window is this share of the fan-out time: six updates at the 0.5 s tick.
STALL_WINDOW_SHARE = 5


def _rise(beside: list[float], alone: list[float]) -> float:
    return (percentile(beside, 0.99) / percentile(alone, 0.99) - 1) * 100


async def fanout_paths(running: RunningSystem, floor: Floor, settings: Settings) -> list[Row]:
    url = ws_url(running)
    floor_url = f"ws://{floor.proxy_address}/ws"
    engine = running.stubs.engine
    rows: list[Row] = []
    alone: list[float] = []
    stalled_beside: list[float] = []
    reader_beside: list[float] = []
    rises: list[float] = []
    control_rises: list[float] = []
    async with readers(url, 100) as clients:
        await asyncio.sleep(1)
        # Round after round: the VM's drift falls on all three windows alike.
        each = settings.fanout_seconds / STALL_WINDOW_SHARE
        for _ in range(STALL_ROUNDS):
            without = await fanout_latencies(engine, clients, each)
            stalled = await stalled_browser(url, running.system.address("gateway"))
            try:
                # The stalled browser is offered every update too, and reads none.
                with_stalled = await fanout_latencies(engine, clients, each)
            finally:
                stalled.transport.abort()
            async with readers(url, 1):
                with_reader = await fanout_latencies(engine, clients, each)
            alone += without
            stalled_beside += with_stalled
            reader_beside += with_reader
            rises.append(_rise(with_stalled, without))
            control_rises.append(_rise(with_reader, without))
        frame_size = funding_frame_size(clients)
    async with readers(floor_url, 100) as clients:
        await asyncio.sleep(1)
        floor_100 = Row(f"floor: FastAPI WebSocket, {frame_size} B to 100 browsers",
                        await floor_fanout_latencies(floor.proxy_address, clients, frame_size,
                                                     settings.fanout_seconds))
    first = Row("FUNDING_UPDATE to 100 browsers", alone, targets=(Target("p99", 25.0),),
                floor=floor_100, note="behind a direct engine StreamEvents subscription")
    second = Row("  ... with one stalled browser", stalled_beside,
                  note=f"{STALL_ROUNDS} rounds without it, with it, and with the control")
    control = Row("  ... with one more browser reading (the control)", reader_beside)
    # The verdict is the median of the rounds' rises, as before the control: the control (its
    # median rise the same way) shows how far that estimate moves for a browser that reads.
    rows += [floor_100, first, second, control, Row(
        "  p99 rise from the stalled browser", value=statistics.median(rises), unit="%",
        targets=(Target("value", 10.0),),
        note=f"median of {STALL_ROUNDS} rounds: " + ", ".join(f"{r:+.0f}" for r in rises)
        + f"; the control's median {statistics.median(control_rises):+.0f} % (rounds: "
        + ", ".join(f"{r:+.0f}" for r in control_rises) + ")")]
    async with readers(url, 1000) as clients:
        await asyncio.sleep(2)
        many = await fanout_latencies(engine, clients, settings.fanout_seconds)
    async with readers(floor_url, 1000) as clients:
        await asyncio.sleep(2)
        floor_1000 = Row(f"floor: FastAPI WebSocket, {frame_size} B to 1000 browsers",
                         await floor_fanout_latencies(floor.proxy_address, clients, frame_size,
                                                      settings.fanout_seconds))
    rows += [floor_1000, Row("FUNDING_UPDATE to 1000 browsers", many,
                             targets=(Target("p99", 100.0),), floor=floor_1000,
                             note="1000 clients in one Python process share its 2 cores with "
                                  "the gateway: partly the client's time, as in the floor")]
    return rows


# After each close, time for the sync and the update that follow it: the next open then
# finds the engine idle, as a user's trade does.
QUIET_SECONDS = 0.1


FloorTrade = Callable[[], Awaitable[float]]


@asynccontextmanager
async def floor_trades(address: str | None) -> AsyncIterator[FloorTrade | None]:
    """bench/trade_floor.py's graph of a trade's calls on bare servers: each call of the
    answer makes one floor trade and answers its ms (None without a floor's address)."""
    if address is None:
        yield None
        return
    channel = grpc.aio.insecure_channel(address)
    trade = echo_stub(channel)

    async def timed() -> float:
        started = time.perf_counter()
        await trade(b"trade")
        return (time.perf_counter() - started) * 1000

    try:
        for _ in range(20):   # warm-up
            await trade(b"trade")
        yield timed
    finally:
        await channel.close()


async def beside_the_floor(running: RunningSystem, count: int,
                           floor_trade: FloorTrade | None) -> tuple[list[float], list[float]]:
    """A floor trade, then one OpenPosition and its close, each after the same quiet time,
    `count` times in turn: the VM's drift falls on both alike (measured one after the other,
    the same floor read 5.1 to 13.3 ms p50 within an hour). Answers (floor ms, open ms)."""
    floor_ms: list[float] = []
    opens: list[float] = []
    for _ in range(count):
        if floor_trade is not None:
            floor_ms.append(await floor_trade())
            await asyncio.sleep(QUIET_SECONDS)
        opens += await open_close(running, 1, quiet=QUIET_SECONDS)
    return floor_ms, opens


async def trade_path(running: RunningSystem, settings: Settings,
                     engine_metrics: str | None, floor_address: str | None = None) -> list[Row]:
    """OpenPosition through gates, intent, fill and vault write, closed again after each: one
    trade at a time (the target; beside the floor of its calls when `floor_address` is the
    trade floor's), then back to back (the next open waits for the previous close's sync);
    with the engine's /metrics, its own timing of each hop too."""
    before = await read_totals(engine_metrics, HOP_HISTOGRAM) if engine_metrics else {}
    count = max(200, settings.samples // 4)
    services = pids(running)
    await open_close(running, 20, quiet=0.0)  # warm-up
    async with floor_trades(floor_address) as floor_trade:
        cpu_before = {name: cpu_seconds(pid) for name, pid in services.items()}
        floor_ms, quiet = await beside_the_floor(running, count, floor_trade)
        cpu_after = {name: cpu_seconds(pid) for name, pid in services.items()}
    floor = (Row("floor: a trade's 9 calls on bare grpc.aio servers", floor_ms,
                 note="the same calls, order and overlap (bench/trade_floor.py), taken in "
                      "turn with the trades below") if floor_ms else None)
    one_at_a_time = Row("gRPC engine.OpenPosition (paper, whole path)", quiet,
                        targets=(Target("p50", 15.0),), floor=floor,
                        note=f"one trade at a time: {QUIET_SECONDS * 1000:.0f} ms after each "
                             "close, in turn with the floor's")
    rows = [*([floor] if floor else []), one_at_a_time]
    rows.append(Row("  ... back to back (open, close, open, ...)",
                    await open_close(running, count, quiet=0.0),
                    note="each waits for the previous close's vault sync"))
    # Where the CPU goes: on 2 cores shared by five services the path waits for it.
    rows += [Row(f"  CPU per open + close: {name}", unit="ms",
                 value=(cpu_after[name] - cpu_before[name]) / count * 1000)
             for name in services]
    if engine_metrics:
        after = await read_totals(engine_metrics, HOP_HISTOGRAM)
        whole = one_at_a_time.stat("p50")
        rows += [Row(f"  hop (engine histogram): {hop}", value=ms,
                     note=f"mean over opens and closes; {ms / whole * 100:.0f} % of the p50")
                 for hop, ms in mean_ms(before, after).items()]
    return rows


async def open_close(running: RunningSystem, count: int, *, quiet: float) -> list[float]:
    """Milliseconds of each OpenPosition; every open is closed again, then `quiet` s pass."""
    engine = running.stubs.engine
    opens: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        opened = await confirm_stub(engine.OpenPosition, engine_pb2.OpenPositionRequest(
            request_id=request_id(), market="BTC-PERP", direction="short", size="0.0005"))
        opens.append((time.perf_counter() - started) * 1000)
        if not opened.result.ok:
            raise RuntimeError(f"OpenPosition failed: {opened.result.error}")
        closed = await confirm_stub(engine.ClosePosition, engine_pb2.ClosePositionRequest(
            request_id=request_id(), market="BTC-PERP"))
        if not closed.result.ok:
            raise RuntimeError(f"ClosePosition failed: {closed.result.error}")
        if quiet:
            await asyncio.sleep(quiet)
    return opens


def hop_rows(spans: SpanStore) -> list[Row]:
    """The traced system's OpenPosition split by the engine's outgoing calls: mean ms per
    trade in each, and the engine's own time (its span minus the time any call was open)."""
    split = hops(spans, "/dne.engine.v1.EngineService/OpenPosition")
    if split is None:
        return [Row("OpenPosition hops", value=0.0, note="no spans received")]
    mean = sum(split.totals_ms) / len(split.totals_ms)
    rows = [Row(f"  hop (traced system): {name.rsplit('.', 1)[-1]}", value=ms,
                note=f"{ms / mean * 100:.0f} % of the span")
            for name, ms in sorted(split.calls_ms.items(), key=lambda item: -item[1])]
    rows.append(Row("  hop (traced system): engine's own time", value=split.own_ms,
                    note=f"{split.own_ms / mean * 100:.0f} % of {mean:.1f} ms mean server span "
                         f"over {len(split.totals_ms)} traced trades; calls overlap, so hops "
                         "sum past 100 %"))
    return rows


async def throughput_of(address: str, token: str | None, path: str, seconds: float) -> float:
    pool = ConnectionPool(address, token)
    try:
        await closed_loop(lambda: pool.get(path), 0, warmup=100)
        return await throughput(lambda: pool.get(path), seconds)
    finally:
        pool.close()


async def markets_throughput(running: RunningSystem, seconds: float) -> float:
    return await throughput_of(running.system.address("gateway"), running.api_token,
                               "/api/drift/markets", seconds)


TRACING_ROUNDS = 5


READ_RATIO = GatewaySettings.model_fields["trace_read_ratio"].default


async def tracing_cost(systems: tuple[RunningSystem, RunningSystem, RunningSystem],
                       floors: tuple[Floor, Floor], seconds: float) -> list[Row]:
    """1 - traced / untraced throughput: for the markets path at the default share of reads
    traced (TRACE_READ_RATIO) and with every read traced, and for the floor's bare FastAPI ->
    gRPC echo traced by the same instrumentation: each the median of rounds taken in turn,
    so the VM's drift falls on all of them."""
    untraced, traced, traced_all = systems
    gateway = ConnectionPool(untraced.system.address("gateway"), untraced.api_token)
    try:
        size = len(await gateway.get("/api/drift/markets"))
    finally:
        gateway.close()
    proxy = f"/proxy?size={size}"
    rates: dict[str, list[float]] = {
        "plain": [], "traced": [], "traced all": [], "floor": [], "traced floor": []}
    for _ in range(TRACING_ROUNDS):
        for name, system in (("plain", untraced), ("traced", traced),
                             ("traced all", traced_all)):
            rates[name].append(await markets_throughput(system, seconds))
        for name, floor in zip(("floor", "traced floor"), floors, strict=True):
            rates[name].append(await throughput_of(floor.proxy_address, None, proxy, seconds))

    def cost(plain: str, exporting: str) -> tuple[float, str]:
        each = ", ".join(f"{(1 - t / u) * 100:.0f}"
                         for u, t in zip(rates[plain], rates[exporting], strict=True))
        untraced_rate = statistics.median(rates[plain])
        traced_rate = statistics.median(rates[exporting])
        return ((1 - traced_rate / untraced_rate) * 100,
                f"median of {TRACING_ROUNDS} rounds of {seconds:g} s each in turn: "
                f"{untraced_rate:.0f}/s untraced, {traced_rate:.0f}/s exporting spans (each "
                f"round: {each} %)")

    floor_cost, floor_note = cost("floor", "traced floor")
    system_cost, system_note = cost("plain", "traced")
    every_read_cost, every_read_note = cost("plain", "traced all")
    return [
        Row(f"floor: tracing cost, FastAPI -> grpc echo, {size} B", value=floor_cost, unit="%",
            note=f"{floor_note}; the gateway's instrumentation on a bare app, every request"),
        Row("tracing cost: GET /api/drift/markets throughput", value=system_cost, unit="%",
            targets=(Target("value", 25.0),),
            note=f"{system_note}; reads traced at the default TRACE_READ_RATIO="
                 f"{READ_RATIO:g} (every command is); metrics on in both"),
        Row("  ... every read traced (TRACE_READ_RATIO=1)", value=every_read_cost, unit="%",
            note=f"{every_read_note}; {every_read_cost / floor_cost:.2f}x the floor's cost"),
    ]


async def idle(running: RunningSystem, settings: Settings) -> list[Row]:
    await asyncio.sleep(5)   # the quiet period: nothing calls the system from here on
    by_service = pids(running)
    cpu = await idle_cpu_percent(by_service, settings.idle_seconds)
    return [Row(f"idle CPU {name}", value=cpu[name], unit="% core",
                targets=(Target("value", 0.5),),
                note="engine running on its default 5 s tick" if name == "engine" else "")
            for name in by_service]


def memory(running: RunningSystem) -> list[Row]:
    """Resident memory after every load above (1,000 browsers included): the high-water mark
    a service keeps, not a fresh process's."""
    return [Row(f"RSS {name} after the load", value=rss_mb(pid), unit="MB",
                targets=(Target("value", 150.0),))
            for name, pid in pids(running).items()]
