"""Issue 11 on real processes: the frame that once took 6 s and 2 GB of the gateway, and the
gRPC Deposit that took 3.7 GB of the engine, are refused INVALID_AMOUNT at once and the
process does not grow."""

from __future__ import annotations

import json
import time

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from dne.engine.v1 import engine_pb2
from dne.executor.v1 import executor_pb2
from tests.gateway.conftest import UNLIMITED
from tests.kit.gateway_client import ws_url
from tests.kit.system import RunningSystem

# The module's system runs on the module's loop; only the gRPC tests are coroutines.
pytestmark = pytest.mark.integration
on_module_loop = pytest.mark.asyncio(loop_scope="module")
GATEWAY_ENV = UNLIMITED
FAST_SECONDS = 0.1
# A process's resident size moves by a few pages on any request; the old fault was gigabytes.
MAX_GROWTH_BYTES = 8 * 2**20
THE_FRAME = '{"action":"DRIFT_DEPOSIT","id":"x","payload":{"amount":"1E-999999999"}}'
HOSTILE_AMOUNTS = ["1E-999999999", "1E+999999999", "-1E-999999999", "1e-19",
                   "9" * 10_000, "NaN", "sNaN", "Infinity", "-0"]


def rss(system: RunningSystem, name: str) -> int:
    pid = system.system.processes[name].pid
    assert pid is not None
    return int(psutil.Process(pid).memory_info().rss)


def deposit_frame(amount: object, command_id: str) -> str:
    return json.dumps({"action": "DRIFT_DEPOSIT", "id": command_id,
                       "payload": {"amount": amount}})


def next_result(socket) -> dict:
    while (message := json.loads(socket.recv(timeout=5)))["type"] != "COMMAND_RESULT":
        pass
    return message


def test_the_reported_frame_is_refused_at_once_without_growing_the_gateway(system):
    with connect(ws_url(system), max_size=2**22) as socket:
        socket.send('{"action":"PING","id":"warm"}')   # connection set up before measuring
        next_result(socket)
        before = rss(system, "gateway")
        as_json_number = '{"action":"DRIFT_DEPOSIT","id":"n","payload":{"amount":1E-999999999}}'
        frames = [THE_FRAME, as_json_number,
                  *(deposit_frame(amount, f"h{i}") for i, amount in enumerate(HOSTILE_AMOUNTS))]
        for frame in frames:
            started = time.perf_counter()
            socket.send(frame)
            result = next_result(socket)
            elapsed = time.perf_counter() - started
            assert (result["payload"]["error"] or {}).get("code") == "INVALID_AMOUNT", (
                frame[:80], result)
            assert len(result["payload"]["error"]["message"]) < 300
            assert elapsed < FAST_SECONDS, (frame[:80], elapsed)
        assert rss(system, "gateway") - before < MAX_GROWTH_BYTES


def test_a_hostile_number_in_a_rest_query_is_refused_at_once(system):
    with httpx.Client(base_url=system.gateway_url, timeout=5) as http:
        before = rss(system, "gateway")
        for value in ("1E-999999999", "1E+999999999", "9" * 10_000):
            started = time.perf_counter()
            reply = http.get("/api/drift/markets/SOL-PERP/funding", params={"hours": value})
            assert reply.status_code == 422 and reply.json()["error"]["code"]
            assert time.perf_counter() - started < FAST_SECONDS
        assert rss(system, "gateway") - before < MAX_GROWTH_BYTES


@on_module_loop
async def test_a_direct_grpc_deposit_is_refused_at_once_without_growing_the_engine(system):
    engine = system.stubs.engine
    before = rss(system, "engine")
    for number, amount in enumerate(HOSTILE_AMOUNTS):
        started = time.perf_counter()
        reply = await engine.Deposit(engine_pb2.DepositRequest(
            request_id=f"bounded-{number}", amount=amount), timeout=5)
        assert time.perf_counter() - started < FAST_SECONDS, amount[:20]
        assert not reply.result.ok and reply.result.error.code == "INVALID_AMOUNT", amount[:20]
    assert rss(system, "engine") - before < MAX_GROWTH_BYTES


@on_module_loop
async def test_a_direct_grpc_deposit_to_the_executor_is_refused_at_once(system):
    executor = system.stubs.executor
    before = rss(system, "executor")
    # 1e-19 is not among them: the executor trusts the engine's precision (40 places).
    for number, amount in enumerate(a for a in HOSTILE_AMOUNTS if a != "1e-19"):
        started = time.perf_counter()
        reply = await executor.Deposit(executor_pb2.DepositRequest(
            client_order_id=f"bounded-{number}", amount=amount), timeout=5)
        assert time.perf_counter() - started < FAST_SECONDS, amount[:20]
        assert reply.result.error.code == "INVALID_AMOUNT", (amount[:20], reply.result)
    assert rss(system, "executor") - before < MAX_GROWTH_BYTES
