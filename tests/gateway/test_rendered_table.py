"""/api/drift/markets renders the listing once per distinct feed table (its moment and age are
new with every answer), into the very body the response model gives."""

from __future__ import annotations

import json

from fastapi.encoders import jsonable_encoder
from google.protobuf.timestamp_pb2 import Timestamp

from dne.feed.v1 import feed_pb2
from services.gateway import schemas, wire
from services.gateway.rendered_table import RenderedTable


def reply(sol_rate: str, seconds: int = 0) -> feed_pb2.ListFundingMarketsResponse:
    return feed_pb2.ListFundingMarketsResponse(
        as_of=Timestamp(seconds=1_768_478_400 + seconds), data_age_seconds=seconds,
        model_notes=[f"note {seconds}"],
        markets=[
            feed_pb2.FundingMarket(symbol="SOL-PERP", market_index=0, rate_1h=sol_rate,
                                   apr="8.76", tradable=True, oracle_price="150.25"),
            feed_pb2.FundingMarket(symbol="BTC-PERP", market_index=1, rate_1h="0.00002",
                                   apr="17.52", tradable=True, oracle_price="97000.5"),
        ],
        source="replay")


def expected(answer: feed_pb2.ListFundingMarketsResponse) -> object:
    return jsonable_encoder(schemas.MarketsResponse.model_validate(wire.markets_table(answer)))


def test_the_body_is_what_the_response_model_gives() -> None:
    answer = reply("0.00001")
    body = json.loads(RenderedTable().body(False, answer))
    assert body == expected(answer)
    assert [m["symbol"] for m in body["markets"]] == ["BTC-PERP", "SOL-PERP"]  # APR first


def test_a_later_answer_of_the_same_table_is_not_rendered_again() -> None:
    """The clock runs: every answer has its own moment, age and notes, the markets stay."""
    table = RenderedTable()
    for seconds in (0, 1, 2, 7200):
        answer = reply("0.00001", seconds)
        assert json.loads(table.body(False, answer)) == expected(answer)
    assert table.renders == 1


def test_the_same_answer_is_rendered_once_and_a_new_one_again() -> None:
    table = RenderedTable()
    first = table.body(False, reply("0.00001"))
    assert table.body(False, reply("0.00001")) == first
    assert table.renders == 1
    moved = table.body(False, reply("0.00003"))
    assert table.renders == 2 and json.loads(moved)["markets"][1]["rate_1h"] == 0.00003
    table.body(True, reply("0.00003"))  # each request shape keeps its own
    assert table.renders == 3
