"""The markets table as JSON bytes, rendered once per distinct answer of the feed.

The feed answers the same table until its market clock moves (a funding hour, a new scenario
entry), and validating and encoding some forty markets through the response model on every
request was most of the gateway's time on /api/drift/markets (issue 12). Comparing the feed's
serialized answer with the last one is a memcmp of a few KB."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from dne.feed.v1 import feed_pb2
from services.gateway import schemas, wire


def render(reply: feed_pb2.ListFundingMarketsResponse) -> bytes:
    """The body FastAPI would send for the response model: validated, then JSON-encoded."""
    table = schemas.MarketsResponse.model_validate(wire.markets_table(reply))
    return JSONResponse(table.model_dump(mode="json")).body


class RenderedTable:
    def __init__(self) -> None:
        # One entry per request shape (with or without untradable markets): the feed's answer
        # as bytes, and the body rendered from it.
        self._last: dict[bool, tuple[bytes, bytes]] = {}
        self.renders = 0

    def body(self, include_untradable: bool,
             reply: feed_pb2.ListFundingMarketsResponse) -> bytes:
        answer = reply.SerializeToString(deterministic=True)
        cached = self._last.get(include_untradable)
        if cached is not None and cached[0] == answer:
            return cached[1]
        body = render(reply)
        self.renders += 1
        self._last[include_untradable] = (answer, body)
        return body
