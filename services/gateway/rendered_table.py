"""The markets table as JSON bytes, the listing rendered once per distinct table of the feed.

The feed answers the same markets until its table changes (a funding hour, a new scenario
entry); only the answer's moment, age and notes move with every call. Validating and encoding
some forty markets through the response model on every request was most of the gateway's time
on /api/drift/markets (issue 12). So the listing is validated and encoded once per distinct
table (keyed on the feed's answer without its per-call fields, compared as bytes), and each
answer's freshness fields are encoded per request and joined to it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from dne.feed.v1 import feed_pb2
from services.gateway import schemas, wire


def _json(fields: dict[str, Any]) -> bytes:
    """The bytes FastAPI's JSONResponse sends for `fields`: one object, compact."""
    return JSONResponse(fields).body


def _listing_key(reply: feed_pb2.ListFundingMarketsResponse) -> bytes:
    listing = feed_pb2.ListFundingMarketsResponse()
    listing.CopyFrom(reply)
    for name in wire.FRESHNESS_FIELDS:
        listing.ClearField(name)
    return listing.SerializeToString(deterministic=True)


class RenderedTable:
    def __init__(self) -> None:
        # One entry per request shape (with or without untradable markets): the feed's table
        # as bytes, and the listing's JSON object rendered from it.
        self._last: dict[bool, tuple[bytes, bytes]] = {}
        self.renders = 0

    def body(self, include_untradable: bool,
             reply: feed_pb2.ListFundingMarketsResponse) -> bytes:
        key = _listing_key(reply)
        cached = self._last.get(include_untradable)
        if cached is None or cached[0] != key:
            whole = schemas.MarketsResponse.model_validate(wire.markets_table(reply))
            listing = whole.model_dump(mode="json", exclude=set(wire.listing_freshness(reply)))
            cached = (key, _json(listing))
            self.renders += 1
            self._last[include_untradable] = cached
        # `{listing}` and `{freshness}` joined into one object.
        return cached[1][:-1] + b"," + _json(wire.listing_freshness(reply))[1:]
