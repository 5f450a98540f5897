"""One engine event stream per gateway, fanned out to every browser.

Each browser has a bounded queue of serialized messages, filled without waiting: a browser
whose queue is full (it stopped reading) is dropped, so it never delays the engine stream or
the other browsers. The stream is resubscribed as soon as the engine is back after it went away;
browsers are told when it is lost and get the engine's status afresh when it is followed again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from dne.engine.v1 import engine_pb2, engine_pb2_grpc
from services.common import metrics
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


# How long a subscription waits for the engine to be reachable before it is tried afresh.
READY_WAIT_SECONDS = 30.0

# Sent to every browser when the stream is lost; the next ENGINE_STATUS says the engine is back.
ENGINE_LOST = encode({"type": "ERROR", "payload": {
    "code": "ENGINE_UNAVAILABLE",
    "message": "the gateway lost the engine and is reconnecting; updates resume when it is back"}})
UNAVAILABLE_GREETING = encode({"type": "ERROR", "payload": {
    "code": "ENGINE_UNAVAILABLE",
    "message": "the engine is unavailable; updates resume when it is back"}})


class EventFanout:
    def __init__(
        self, engine: engine_pb2_grpc.EngineServiceStub, *, request_ids: RequestIds,
        queue_size: int, status_timeout: float, max_backoff: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._request_ids = request_ids
        self._queue_size = queue_size
        self._status_timeout = status_timeout
        self._max_backoff = max_backoff
        self._clock = clock
        self._browsers: set[Browser] = set()
        self._task: asyncio.Task[None] | None = None
        self.connected = False
        self.subscriptions = 0   # streams the engine took, the first one included
        self.last_funding_update: str | None = None
        self.skipped_events = 0   # events no browser got because they could not be encoded

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
            return [UNAVAILABLE_GREETING]
        return self._status_messages(reply)

    def _status_messages(self, reply: engine_pb2.GetEngineStatusResponse) -> list[str]:
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
        """Follows the engine's stream for the gateway's life. The subscription waits for the
        channel to be ready, so it goes out as soon as the engine listens again (the channel
        itself retries at least every second); a subscription the engine took but did not keep
        for `max_backoff` seconds counts as a failure, and failures wait 0.2 s, 0.4 s ... up to
        `max_backoff` before the next one."""
        failures = 0
        while True:
            followed_for: float | None
            try:
                followed_for = await self._subscribe_once()
            except grpc.aio.AioRpcError:
                followed_for = None
            if followed_for is not None and followed_for >= self._max_backoff:
                failures = 0
                continue
            await asyncio.sleep(min(self._max_backoff, 0.2 * 2 ** failures))
            failures += 1

    async def _subscribe_once(self) -> float:
        """One subscription: once the engine has taken it, browsers get its status afresh (what
        they saw before may be stale) and then every event; when it is lost they are told.
        Answers how long the stream was followed, or raises when the engine did not take it."""
        call = self._engine.StreamEvents(engine_pb2.StreamEventsRequest(), wait_for_ready=True)
        try:
            # The engine sends the stream's headers once it has subscribed us; a status read
            # after them misses no event in between.
            await call.initial_metadata()
            status = await self._engine.GetEngineStatus(
                engine_pb2.GetEngineStatusRequest(), wait_for_ready=True,
                timeout=READY_WAIT_SECONDS)
            started = self._clock()
            self.connected = True
            self.subscriptions += 1
            log.info("following the engine's event stream",
                     extra={"subscriptions": self.subscriptions})
            for message in self._status_messages(status):
                self.broadcast(message)
            try:
                async for reply in call:
                    self._publish(reply.event)
                log.warning("the engine ended its event stream; reconnecting")
            except grpc.aio.AioRpcError as error:
                log.warning("engine event stream lost; reconnecting",
                            extra={"grpc_code": error.code().name})
            # The next engine starts afresh: its last update is no greeting for a new browser.
            self.last_funding_update = None
            self.broadcast(ENGINE_LOST)
            return self._clock() - started
        finally:
            self.connected = False
            call.cancel()

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

    def _skip(self, event: engine_pb2.EngineEvent, error: Exception) -> None:
        self.skipped_events += 1
        # Counted every time (the log says it once): an operator alerts on the rate.
        metrics.GATEWAY_SKIPPED_EVENTS.labels(event=event.WhichOneof("payload") or "none").inc()
        if self.skipped_events == 1:  # once: the same fault would repeat on every update
            log.error("an engine event that cannot be sent to browsers was skipped",
                      extra={"event": event.WhichOneof("payload")}, exc_info=error)

    def _publish(self, event: engine_pb2.EngineEvent) -> None:
        try:
            self._publish_unguarded(event)
        except Exception as error:  # one bad event must not end the stream for every browser
            self._skip(event, error)

    def _publish_unguarded(self, event: engine_pb2.EngineEvent) -> None:
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
