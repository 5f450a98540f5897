"""EventFanout against an in-process fake engine: one subscription, resubscribed when the engine
comes back, and a full browser queue dropped without touching the others."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import pytest

from dne.common.v1 import common_pb2 as K
from dne.engine.v1 import engine_pb2 as E
from dne.engine.v1 import engine_pb2_grpc
from services.common.grpc_client import open_channel
from services.gateway.fanout import Browser, EventFanout
from services.gateway.request_ids import RequestIds
from tests.kit.ports import free_port

IDS = RequestIds("a-test-token-of-32-characters-xx")


class FakeEngine(engine_pb2_grpc.EngineServiceServicer):
    def __init__(self) -> None:
        self.events: asyncio.Queue[E.EngineEvent] = asyncio.Queue()
        self.subscriptions = 0

    async def GetEngineStatus(self, request, context):
        return E.GetEngineStatusResponse(status=E.EngineStatus(running=True, mode="paper"))

    async def StreamEvents(self, request, context):
        self.subscriptions += 1
        await context.send_initial_metadata(())
        while True:
            yield E.StreamEventsResponse(event=await self.events.get())


def update(health: str) -> E.EngineEvent:
    return E.EngineEvent(type=E.EVENT_TYPE_FUNDING_UPDATE,
                         funding_update=E.FundingUpdate(health=health, mode="paper"))


async def serve(engine: FakeEngine, port: int) -> grpc.aio.Server:
    server = grpc.aio.server()
    engine_pb2_grpc.add_EngineServiceServicer_to_server(engine, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server


async def next_message(queue: asyncio.Queue[str], kind: str) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(queue.get(), 5))
        if message["type"] == kind:
            return message


async def test_the_event_stream_is_followed_again_after_the_engine_restarts():
    port = free_port()
    first = FakeEngine()
    server = await serve(first, port)
    channel = open_channel(f"127.0.0.1:{port}")
    fanout = EventFanout(engine_pb2_grpc.EngineServiceStub(channel), request_ids=IDS,
                         queue_size=16, status_timeout=1)
    fanout.start()
    try:
        browser = await fanout.join()
        assert (await next_message(browser.queue, "ENGINE_STATUS"))["payload"]["running"]
        await first.events.put(update("91"))
        assert (await next_message(browser.queue, "FUNDING_UPDATE"))["payload"]["health"] == 91
        await server.stop(0)
        lost = await next_message(browser.queue, "ERROR")
        assert lost["payload"]["code"] == "ENGINE_UNAVAILABLE"
        assert "reconnecting" in lost["payload"]["message"]
        await asyncio.sleep(3)   # the channel's reconnection backoff has reached its cap

        second = FakeEngine()
        server = await serve(second, port)
        back = time.monotonic()
        # A fresh status for the browsers that saw the engine go, and no stale update.
        assert (await next_message(browser.queue, "ENGINE_STATUS"))["payload"]["running"]
        assert time.monotonic() - back < 1.5
        assert second.subscriptions == 1
        await second.events.put(update("77"))
        assert (await next_message(browser.queue, "FUNDING_UPDATE"))["payload"]["health"] == 77
    finally:
        await fanout.stop()
        await server.stop(0)
        await channel.close()


@pytest.mark.parametrize("browsers", [2, 50])
async def test_a_full_browser_is_dropped_and_the_others_get_every_message(browsers):
    fanout = EventFanout(engine_pb2_grpc.EngineServiceStub(
        grpc.aio.insecure_channel("127.0.0.1:1")), request_ids=IDS, queue_size=3,
        status_timeout=0.1)
    readers = [await fanout.join() for _ in range(browsers)]   # greeted with an ERROR each
    for message in range(5):
        for reader in readers[1:]:
            while not reader.queue.empty():
                reader.queue.get_nowait()
        fanout.broadcast(f'{{"n": {message}}}')
    assert readers[0].overflowed.is_set()
    assert fanout.browser_count == browsers - 1
    assert all(not reader.overflowed.is_set() for reader in readers[1:])
    assert all(reader.queue.get_nowait() == '{"n": 4}' for reader in readers[1:])


def late_result(request_id: str, *, pending: bool = False) -> E.EngineEvent:
    result = (E.CommandResult(request_id=request_id, action="DRIFT_OPEN_POSITION",
                              error=K.Error(code="ORDER_PENDING", message="landing"))
              if pending else
              E.CommandResult(request_id=request_id, action="DRIFT_OPEN_POSITION", ok=True,
                              order=K.OrderResult(status=K.TRADE_STATUS_FILLED,
                                                  tx_signature="sig")))
    return E.EngineEvent(type=E.EVENT_TYPE_COMMAND_RESULT, command_result=result)


def test_a_late_final_result_goes_only_to_the_browser_that_waits_for_it() -> None:
    fanout = EventFanout(None, request_ids=IDS, queue_size=10,  # type: ignore[arg-type]
                         status_timeout=1)
    sender, other = Browser(10), Browser(10)
    fanout._browsers.update({sender, other})
    sender.awaiting.add("c-1")
    final = late_result(IDS.for_command("c-1"))
    for event in (late_result(IDS.for_command("c-2"), pending=True), final, final):
        fanout._publish(event)
    assert other.queue.empty()
    delivered = json.loads(sender.queue.get_nowait())
    assert delivered["type"] == "COMMAND_RESULT" and delivered["id"] == "c-1"
    assert delivered["payload"]["ok"] and delivered["payload"]["order"]["tx_signature"] == "sig"
    assert sender.queue.empty()  # once, not twice


def test_a_late_result_reaches_the_connection_that_retried_the_command() -> None:
    """The browser that sent the command is gone; its retry on a new socket waits for it."""
    fanout = EventFanout(None, request_ids=IDS, queue_size=10,  # type: ignore[arg-type]
                         status_timeout=1)
    retried = Browser(10)
    fanout._browsers.add(retried)
    retried.awaiting.add("c-9")
    fanout._publish(late_result(RequestIds("another-token-of-32-characters-x").for_command("c-9")))
    assert retried.queue.empty()   # another token's command, not this one
    fanout._publish(late_result(IDS.for_command("c-9")))
    assert json.loads(retried.queue.get_nowait())["id"] == "c-9"


def test_request_ids_are_per_token_and_never_carry_the_token() -> None:
    token = "a-test-token-of-32-characters-xx"
    mine, same_token = RequestIds(token), RequestIds(token)
    theirs = RequestIds("another-token-of-32-characters-x")
    assert mine.for_command("c-1") == same_token.for_command("c-1")   # across connections
    assert mine.for_command("c-1") != theirs.for_command("c-1")
    assert token not in mine.for_command("c-1")
    assert len(mine.for_command("x" * 64)) <= 128                       # the engine's limit
    assert mine.command_of(mine.for_command("a:b")) == "a:b"
    assert mine.command_of(theirs.for_command("a")) is None
    assert mine.command_of("cli-123") is None
