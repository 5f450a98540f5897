"""EngineService through a real in-process grpc.aio server: every RPC answers bad input with a
code and a message; the event stream reaches a gRPC client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from services.engine.servicer import EngineServicer
from tests.kit.engine_fakes import EngineHarness


@pytest.fixture
async def stub(harness: EngineHarness) -> AsyncIterator[engine_pb2_grpc.EngineServiceStub]:
    server = grpc.aio.server()
    engine_pb2_grpc.add_EngineServiceServicer_to_server(
        EngineServicer(harness.engine), server)  # type: ignore[arg-type]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield engine_pb2_grpc.EngineServiceStub(channel)
    await server.stop(0)


async def test_bad_input_on_every_rpc_answers_a_code_and_a_message(
    stub: engine_pb2_grpc.EngineServiceStub,
) -> None:
    stopped = await stub.StopEngine(E.StopEngineRequest())
    assert stopped.result.error.code == "ENGINE_NOT_RUNNING"
    not_running = await stub.Deposit(E.DepositRequest(request_id="d0", amount="10"))
    assert not_running.result.error.code == "ENGINE_NOT_RUNNING"
    rebalance = await stub.CheckRebalance(E.CheckRebalanceRequest(simulate=True))
    assert rebalance.result.error.code == "ENGINE_NOT_RUNNING"
    assert (await stub.ResetVault(E.ResetVaultRequest())).result.error.code == (
        "ENGINE_NOT_RUNNING")
    bad_mode = await stub.StartEngine(E.StartEngineRequest(request_id="s0", mode="yolo"))
    assert bad_mode.result.error.code == "INVALID_MODE" and not bad_mode.status.running
    bad_id = await stub.StartEngine(E.StartEngineRequest(request_id="has space", mode="paper"))
    assert bad_id.result.error.code == "INVALID_ARGUMENT"
    started = await stub.StartEngine(E.StartEngineRequest(request_id="s1", mode="paper"))
    assert started.result.ok and started.status.running

    cases = [
        (stub.Deposit, E.DepositRequest(request_id="d1", amount="NaN"), "INVALID_AMOUNT"),
        (stub.Deposit, E.DepositRequest(amount="10"), "MISSING_REQUEST_ID"),
        (stub.Deposit, E.DepositRequest(request_id="d2", amount="0.0000001"), "INVALID_AMOUNT"),
        (stub.Withdraw, E.WithdrawRequest(request_id="w1", amount="-1"), "INVALID_AMOUNT"),
        (stub.Withdraw, E.WithdrawRequest(request_id="w2", amount=""), "INVALID_AMOUNT"),
        (stub.OpenPosition, E.OpenPositionRequest(
            request_id="o1", market="", direction="short", size="1"), "INVALID_MARKET"),
        (stub.OpenPosition, E.OpenPositionRequest(
            request_id="o2", market="SOL-PERP", direction="up", size="1"), "INVALID_DIRECTION"),
        (stub.OpenPosition, E.OpenPositionRequest(
            request_id="o3", market="SOL-PERP", direction="short", size="1e400"),
         "INVALID_SIZE"),
        (stub.OpenPosition, E.OpenPositionRequest(
            request_id="o4", market="SOL-PERP", direction="short", size="inf"), "INVALID_SIZE"),
        (stub.ClosePosition, E.ClosePositionRequest(request_id="c1", market="SOL-PERP"),
         "NO_POSITION"),
        (stub.ClosePosition, E.ClosePositionRequest(request_id="c2", market="x y"),
         "INVALID_MARKET"),
        (stub.SettlePnl, E.SettlePnlRequest(request_id="p1", market=""), "INVALID_MARKET"),
        (stub.Swap, E.SwapRequest(request_id="x1", direction="hold", size="1"),
         "INVALID_DIRECTION"),
        (stub.Swap, E.SwapRequest(request_id="x2", direction="buy", size="0"), "INVALID_SIZE"),
        (stub.ResetVault, E.ResetVaultRequest(request_id="r" * 200), "INVALID_ARGUMENT"),
        (stub.CheckRebalance, E.CheckRebalanceRequest(request_id="bad id"), "INVALID_ARGUMENT"),
    ]
    for call, request, code in cases:
        reply = await call(request)
        assert not reply.result.ok, request
        assert reply.result.error.code == code, (request, reply.result.error)
        assert reply.result.error.message, request

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        async for _ in stub.StreamEvents(E.StreamEventsRequest(types=[99])):
            pass
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown event types" in (refused.value.details() or "")


async def test_an_unexpected_failure_is_an_internal_answer_not_a_transport_error(
    harness: EngineHarness, stub: engine_pb2_grpc.EngineServiceStub,
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("boom")

    harness.engine.trade = broken  # type: ignore[attr-defined]
    reply = await stub.Deposit(E.DepositRequest(request_id="d", amount="10"))
    assert reply.result.error.code == "INTERNAL" and reply.result.error.message
    assert "boom" not in reply.result.error.message


async def test_commands_and_status_reach_a_streaming_client(
    stub: engine_pb2_grpc.EngineServiceStub,
) -> None:
    call = stub.StreamEvents(E.StreamEventsRequest(
        types=[E.EVENT_TYPE_COMMAND_RESULT, E.EVENT_TYPE_ENGINE_STATUS]))
    received: list[E.EngineEvent] = []

    async def collect() -> None:
        async for reply in call:
            received.append(reply.event)

    reader = asyncio.create_task(collect())
    await asyncio.sleep(0.05)  # the subscription is registered
    assert (await stub.StartEngine(E.StartEngineRequest(request_id="s", mode="paper"))).result.ok
    deposit = await stub.Deposit(E.DepositRequest(request_id="dep", amount="250"))
    assert deposit.result.ok and deposit.result.order.filled_size == "250"
    status = await stub.GetEngineStatus(E.GetEngineStatusRequest())
    assert status.status.running and status.snapshot.total_collateral == "250"
    for _ in range(50):
        if len(received) >= 3:
            break
        await asyncio.sleep(0.02)
    call.cancel()
    reader.cancel()
    types = [event.type for event in received]
    assert E.EVENT_TYPE_ENGINE_STATUS in types
    results = [e.command_result for e in received if e.type == E.EVENT_TYPE_COMMAND_RESULT]
    assert [r.request_id for r in results] == ["s", "dep"]
    assert all(event.event_id for event in received)
