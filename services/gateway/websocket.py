"""The /ws endpoint: origin and token checks (the token as a subprotocol or in `?token=`), one
reader and one writer per browser, commands answered concurrently (a slow engine call never
holds up the next PING), overflow closes with 1013."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from services.common import metrics
from services.common.errors import ErrorCode
from services.gateway.auth import token_matches
from services.gateway.dispatch import CommandDispatcher
from services.gateway.fanout import Browser, EventFanout, encode

log = logging.getLogger(__name__)

# The browser's way to send the token without putting it in the URL (where it would reach
# proxy logs on every reconnection): two subprotocols, "dne.v1" and "dne.token.<token>"; the
# gateway chooses "dne.v1", so the token is never echoed. `?token=` still works for scripts.
PROTOCOL = "dne.v1"
TOKEN_PROTOCOL_PREFIX = "dne.token."  # noqa: S105 (a prefix, not a secret)

CLOSE_UNAUTHORIZED = 4401
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_GRACE_SECONDS = 1.0

# A single message that cannot be written for this long means the browser stopped reading.
SEND_TIMEOUT_SECONDS = 5.0

def origin_allowed(websocket: WebSocket, origins: frozenset[str]) -> bool:
    """A browser always sends Origin: its page's. The gateway's own pages (http or https on the
    Host the request names, which the host check vetted) and the configured origins may
    connect; a client that sends none (a script, the `dne` CLI) is not a browser page."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    host = websocket.headers.get("host", "").lower()
    return origin in origins or (bool(host) and origin in (f"http://{host}", f"https://{host}"))


async def refuse_origin(websocket: WebSocket) -> None:
    """403 on the upgrade, with the error body; a server without the denial extension closes
    with 1008 and the reason instead."""
    message = "this page's origin may not open the gateway's WebSocket: open the dashboard"
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(
            {"error": {"code": ErrorCode.UNAUTHORIZED, "message": message, "details": {}}},
            status_code=403))
        return
    await websocket.accept()
    await websocket.close(CLOSE_POLICY_VIOLATION, message)


def offered_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """The token the client offered and the subprotocol to answer with."""
    protocols: list[str] = list(websocket.scope.get("subprotocols") or [])
    for protocol in protocols:
        if protocol.startswith(TOKEN_PROTOCOL_PREFIX):
            return protocol.removeprefix(TOKEN_PROTOCOL_PREFIX), PROTOCOL
    chosen = PROTOCOL if PROTOCOL in protocols else None
    return websocket.query_params.get("token"), chosen


async def serve_browser(
    websocket: WebSocket, *, token: str, fanout: EventFanout, dispatcher: CommandDispatcher,
    origins: frozenset[str] = frozenset(),
) -> None:
    if not origin_allowed(websocket, origins):
        log.warning("refused a WebSocket from a foreign origin",
                    extra={"origin": websocket.headers.get("origin", "")[:200]})
        await refuse_origin(websocket)
        return
    offered, protocol = offered_token(websocket)
    await websocket.accept(subprotocol=protocol)
    if not token_matches(offered, token):
        await websocket.send_text(encode({"type": "ERROR", "payload": {
            "code": ErrorCode.UNAUTHORIZED,
            "message": "missing or wrong token: open the dashboard URL printed by the gateway"}}))
        await websocket.close(CLOSE_UNAUTHORIZED)
        return
    browser = await fanout.join()
    metrics.WEBSOCKET_CLIENTS.inc()
    writer = asyncio.create_task(_write(websocket, browser), name=f"ws-writer-{browser.id}")
    reader = asyncio.create_task(_read(websocket, browser, dispatcher),
                                 name=f"ws-reader-{browser.id}")
    overflow = asyncio.create_task(browser.overflowed.wait())
    try:
        await asyncio.wait({writer, reader, overflow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        fanout.leave(browser)
        metrics.WEBSOCKET_CLIENTS.dec()
        for task in (writer, reader, overflow):
            task.cancel()
        for task in (writer, reader, overflow):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if browser.overflowed.is_set():
        log.warning("closed a browser that stopped reading",
                    extra={"connection": browser.id, "close_code": CLOSE_TRY_AGAIN_LATER})
        # The close frame waits behind what the browser did not read: give it a moment,
        # then let the server drop the connection.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(CLOSE_TRY_AGAIN_LATER,
                                                   "too slow: messages piled up"),
                                   CLOSE_GRACE_SECONDS)


async def _write(websocket: WebSocket, browser: Browser) -> None:
    while True:
        text = await browser.queue.get()
        if websocket.application_state != WebSocketState.CONNECTED:
            return
        try:
            # A deadline on this task, not wait_for's extra task per message (Python 3.11):
            # with 1,000 browsers that is 1,000 tasks fewer per event.
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await websocket.send_text(text)
        except TimeoutError:
            # Blocked this long on one message: the browser stopped reading. Drop it.
            browser.overflowed.set()
            return


async def _read(websocket: WebSocket, browser: Browser, dispatcher: CommandDispatcher) -> None:
    pending: set[asyncio.Task[None]] = set()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            frame: str | bytes | None = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            task = asyncio.create_task(_answer(frame, browser, dispatcher))
            pending.add(task)
            task.add_done_callback(pending.discard)
    except WebSocketDisconnect:
        return
    finally:
        for task in pending:
            task.cancel()


async def _answer(frame: str | bytes, browser: Browser, dispatcher: CommandDispatcher) -> None:
    reply: dict[str, Any] = await dispatcher.handle(frame, browser.id)
    error = (reply.get("payload") or {}).get("error") or {}
    if reply.get("type") == "COMMAND_RESULT" and error.get("code") == "ORDER_PENDING":
        # Sent but unconfirmed: the final COMMAND_RESULT follows from the engine's stream.
        browser.awaiting.add(str(reply.get("id")))
    browser.offer(encode(reply))
