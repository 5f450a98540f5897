"""One engine event stream per gateway, fanned out to every browser.

Each browser has a bounded queue of serialized messages, filled without waiting: a browser
whose queue is full (it stopped reading) is dropped, so it never delays the engine stream or
the other browsers. The stream is resubscribed with backoff when the engine goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import grpc
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from services.gateway import wire
from services.gateway.request_ids import RequestIds

log = logging.getLogger(__name__)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


class Browser:
    """One WebSocket connection's outgoing side."""

    def __init__(self, queue_size: int) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.queue: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self.overflowed = asyncio.Event()
        # Command ids answered ORDER_PENDING: their final result comes from the engine's stream.
        self.awaiting: set[str] = set()

    def offer(self, text: str) -> bool:
        """Queues without waiting; answers False (and marks the browser) when it is full."""
        if self.overflowed.is_set():
            return False
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed.set()
            return False
        return True


class StreamEnded(Exception):
    """The engine closed the stream (it is shutting down): subscribe again."""


class EventFanout:
    def __init__(
        self, engine: engine_pb2_grpc.EngineServiceStub, *, request_ids: RequestIds,
        queue_size: int, status_timeout: float, max_backoff: float = 5.0,
    ) -> None:
        self._engine = engine
        self._request_ids = request_ids
        self._queue_size = queue_size
        self._status_timeout = status_timeout
        self._max_backoff = max_backoff
        self._browsers: set[Browser] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.last_funding_update: str | None = None

    @property
    def browser_count(self) -> int:
        return len(self._browsers)

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="engine-event-stream")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def join(self) -> Browser:
        """Registers a browser with ENGINE_STATUS and, when the engine runs, the last
        FUNDING_UPDATE already queued, ahead of anything broadcast later."""
        browser = Browser(self._queue_size)
        for message in await self._greeting():
            browser.offer(message)
        self._browsers.add(browser)
        return browser

    def leave(self, browser: Browser) -> None:
        self._browsers.discard(browser)

    def broadcast(self, text: str) -> None:
        for browser in list(self._browsers):
            if not browser.offer(text):
                self._browsers.discard(browser)

    async def _greeting(self) -> list[str]:
        try:
            reply = await self._engine.GetEngineStatus(
                engine_pb2.GetEngineStatusRequest(), timeout=self._status_timeout)
        except grpc.aio.AioRpcError:
            return [encode({"type": "ERROR", "payload": {
                "code": "ENGINE_UNAVAILABLE",
                "message": "the engine is unavailable; updates resume when it is back"}})]
        messages = [encode({"type": "ENGINE_STATUS",
                            "payload": wire.engine_status(reply.status)})]
        if reply.status.running:
            if reply.HasField("snapshot"):
                messages.append(encode({"type": "FUNDING_UPDATE",
                                        "payload": wire.funding_update(reply.snapshot)}))
            elif self.last_funding_update is not None:
                messages.append(self.last_funding_update)
        return messages

    async def _follow(self) -> None:
        while True:
            retrying = AsyncRetrying(
                wait=wait_exponential(multiplier=0.2, max=self._max_backoff),
                retry=retry_if_exception_type((grpc.aio.AioRpcError, StreamEnded)),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    await self._subscribe_once()

    async def _subscribe_once(self) -> None:
        call = self._engine.StreamEvents(engine_pb2.StreamEventsRequest())
        try:
            async for reply in call:
                if not self.connected:
                    log.info("following the engine's event stream")
                self.connected = True
                self._publish(reply.event)
        except grpc.aio.AioRpcError as error:
            if self.connected:
                log.warning("engine event stream lost; reconnecting",
                            extra={"grpc_code": error.code().name})
            raise
        finally:
            self.connected = False
            call.cancel()
        raise StreamEnded()

    def _deliver_late_result(self, result: engine_pb2.CommandResult) -> None:
        """A final result for an order that was still landing goes to each browser waiting for
        that command id (the one that sent it, or the one that retried it after a reconnection),
        under the browser's own command id."""
        command_id = self._request_ids.command_of(result.request_id)
        if command_id is None or result.error.code == "ORDER_PENDING":
            return
        message = encode({"type": "COMMAND_RESULT", "id": command_id,
                          "payload": wire.command_result(result, result.action)})
        for browser in list(self._browsers):
            if command_id in browser.awaiting:
                browser.awaiting.discard(command_id)
                if not browser.offer(message):
                    self._browsers.discard(browser)

    def _publish(self, event: engine_pb2.EngineEvent) -> None:
        if event.WhichOneof("payload") == "command_result":
            self._deliver_late_result(event.command_result)
            return
        message = wire.engine_event(event)
        if message is None:
            return
        text = encode(message)
        if message["type"] == "FUNDING_UPDATE":
            self.last_funding_update = text
        self.broadcast(text)
