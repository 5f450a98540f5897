"""Both steps of a trade above the confirmation threshold, for tests that only want it done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dne.engine.v1 import engine_pb2 as E

Send = Callable[[str], Awaitable[E.CommandResult]]


async def confirm_quoted(send: Send) -> E.CommandResult:
    """send(confirmation_id) once without an id; when the engine answers with a quote, once
    more with the quote's id (what the dashboard does after the user's click)."""
    result = await send("")
    if result.error.code == "CONFIRMATION_REQUIRED" and result.HasField("confirmation"):
        result = await send(result.confirmation.confirmation_id)
    return result


async def confirm_quoted_response(send: Callable[[str], Awaitable[Any]]) -> Any:
    """The same for an RPC answering a response that holds the CommandResult as `result`."""
    response = await send("")
    result = response.result
    if result.error.code == "CONFIRMATION_REQUIRED" and result.HasField("confirmation"):
        response = await send(result.confirmation.confirmation_id)
    return response


async def confirm_stub(call: Callable[[Any], Awaitable[Any]], request: Any) -> Any:
    """Both steps through an engine stub: `request`, then (on the engine's quote) a copy of it
    carrying the quote's id. The request id stays: a refusal stored nothing under it."""
    response = await call(request)
    result = response.result
    if result.error.code == "CONFIRMATION_REQUIRED" and result.HasField("confirmation"):
        confirming = type(request)()
        confirming.CopyFrom(request)
        confirming.confirmation_id = result.confirmation.confirmation_id
        response = await call(confirming)
    return response
