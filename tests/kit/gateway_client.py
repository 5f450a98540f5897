"""A browser's side of the gateway for tests: a WebSocket that records every message, and
helpers to send a command and wait for its COMMAND_RESULT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.legacy.client import WebSocketClientProtocol

from tests.kit.system import TEST_API_TOKEN, RunningSystem


def ws_url(system: RunningSystem, token: str | None = TEST_API_TOKEN) -> str:
    base = system.gateway_url.replace("http://", "ws://", 1) + "/ws"
    return base if token is None else f"{base}?token={token}"


def auth_headers(token: str = TEST_API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def command_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class Browser:
    """Reads every message in the background, stamped with its arrival time."""

    def __init__(self, socket: WebSocketClientProtocol) -> None:
        self.socket = socket
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.socket:
                message = json.loads(raw)
                async with self._arrived:
                    self.messages.append((time.monotonic(), message))
                    self._arrived.notify_all()

    async def close(self) -> None:
        await self.socket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0, *, after: int = 0,
    ) -> tuple[float, dict[str, Any]]:
        """The first message (from index `after`) that matches; its arrival time too."""
        async def find() -> tuple[float, dict[str, Any]]:
            async with self._arrived:
                while True:
                    for stamp, message in self.messages[after:]:
                        if match(message):
                            return stamp, message
                    await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.socket.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def command(
        self, action: str, payload: dict[str, Any] | None = None, timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Sends one command and answers its COMMAND_RESULT (property 39: within 5 s)."""
        ident = command_id()
        await self.send({"action": action, "id": ident, "payload": payload or {}})
        _, message = await self.wait_for(
            lambda m: m["type"] == "COMMAND_RESULT" and m.get("id") == ident, timeout)
        return message

    async def confirmed_command(
        self, action: str, payload: dict[str, Any], timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Both steps of a trade over the confirmation threshold: the command, then, when the
        engine answers with a quote, the same trade with the quote's id (a new command id)."""
        message = await self.command(action, payload, timeout)
        quote = message["payload"].get("confirmation")
        if message["payload"]["ok"] or not quote:
            return message
        return await self.command(
            action, {**payload, "confirmation_id": quote["confirmation_id"]}, timeout)

    async def result_of(self, frame: str, timeout: float = 5.0) -> dict[str, Any]:
        """Sends a raw frame and answers the next COMMAND_RESULT after it."""
        after = len(self.messages)
        await self.send(frame)
        _, message = await self.wait_for(lambda m: m["type"] == "COMMAND_RESULT", timeout,
                                         after=after)
        return message


@asynccontextmanager
async def browser(system: RunningSystem, token: str | None = TEST_API_TOKEN
                  ) -> AsyncIterator[Browser]:
    socket = await websockets.connect(ws_url(system, token), max_size=2**22, open_timeout=10)
    client = Browser(socket)
    try:
        yield client
    finally:
        await client.close()
