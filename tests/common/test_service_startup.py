"""A service answers calls only once its start hook has loaded its state.

Shown on the executor with a paper state file big enough that loading it takes a while: a
server that served first would answer GetOrder "not found" meanwhile, which the engine's
recovery reads as "never reached the venue"."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import grpc
import pytest

from dne.executor.v1 import executor_pb2 as pb
from dne.executor.v1 import executor_pb2_grpc
from services.common.service_auth import bearer_interceptors
from services.common.venue import OrderKind, OrderResult, OrderStatus
from services.executor.paper_state import OrderRecord, PaperVenueState, StateFile
from services.launcher.processes import ServiceProcess
from tests.kit.ports import free_port
from tests.kit.service_tokens import SERVICE_TOKEN_ENV, TEST_SERVICE_TOKEN

pytestmark = pytest.mark.integration
ORDERS_IN_STATE = 20_000  # about a second to load
# Retry a refused connection every 50 ms, not after gRPC's default 1 s and more.
QUICK_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 50),
                   ("grpc.min_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 50)]


def state_with_many_orders(path: Path) -> None:
    state = PaperVenueState(Decimal(10_000), Decimal(1))
    for number in range(ORDERS_IN_STATE):
        cid = f"order-{number}"
        state.orders[cid] = OrderRecord(OrderResult(
            cid, OrderKind.DEPOSIT, OrderStatus.FILLED, "USDC", requested_size=Decimal(10),
            filled_size=Decimal(10), executed_at=datetime(2026, 3, 9, tzinfo=UTC)))
    StateFile(path).save(state)


async def found_while_starting(address: str, started: asyncio.Task[str]) -> list[bool]:
    """GetOrder of the last order, asked over and over from the moment the process is spawned
    until it says it is listening: `found` of every answer (failed calls are no answer)."""
    found: list[bool] = []
    request = pb.GetOrderRequest(client_order_id=f"order-{ORDERS_IN_STATE - 1}")
    async with grpc.aio.insecure_channel(address, options=QUICK_RECONNECT,
                                         interceptors=bearer_interceptors(
                                             TEST_SERVICE_TOKEN)) as channel:
        stub = executor_pb2_grpc.ExecutorServiceStub(channel)
        while not started.done():
            with contextlib.suppress(grpc.aio.AioRpcError):
                found.append((await stub.GetOrder(request, timeout=0.5)).found)
            await asyncio.sleep(0.02)
        found.append((await stub.GetOrder(request, timeout=5)).found)
    return found


async def test_the_executor_answers_no_order_call_before_its_state_file_is_loaded(
    tmp_path: Path,
) -> None:
    state_path = tmp_path / "paper_venue.json"
    await asyncio.to_thread(state_with_many_orders, state_path)
    port = free_port()
    executor = ServiceProcess("executor", {
        "PORT": str(port), "EXECUTOR_DRIVER": "paper", "PAPER_STATE_PATH": str(state_path),
        "FEED_ADDRESS": f"127.0.0.1:{free_port()}", **SERVICE_TOKEN_ENV,
    }, tmp_path / "executor.log")
    started = asyncio.create_task(executor.start(timeout=90))
    try:
        found = await found_while_starting(f"127.0.0.1:{port}", started)
        await started
    finally:
        await executor.stop()
    assert found and all(found), f"found=False answered while loading: {found.count(False)}"
