"""Command frames parsed without a server: exact decimals, documented codes, never a crash."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway import commands as C


@settings(max_examples=200)
@given(size=st.decimals(min_value=Decimal("0.000000001"), max_value=Decimal(1_000_000),
                        places=9, allow_nan=False, allow_infinity=False))
def test_a_size_sent_as_number_or_string_is_the_same_exact_decimal(size):
    frames = [
        '{"action": "DRIFT_SWAP", "id": "a", "payload": {"direction": "buy", "size": '
        + format(size, "f") + "}}",
        json.dumps({"action": "DRIFT_SWAP", "id": "a",
                    "payload": {"direction": "buy", "size": format(size, "f")}}),
    ]
    parsed = [C.parse_frame(frame) for frame in frames]
    assert all(isinstance(command, C.Swap) for command in parsed)
    assert parsed[0].payload.size == parsed[1].payload.size == size


@settings(max_examples=200)
@given(text=st.text(max_size=300) | st.binary(max_size=300).map(bytes))
def test_any_text_parses_to_a_command_or_a_documented_error(text):
    parsed = C.parse_frame(text)
    if isinstance(parsed, C.FrameError):
        assert parsed.code in {"INVALID_MESSAGE", "UNKNOWN_ACTION", "INVALID_ARGUMENT",
                               "INVALID_SIZE", "INVALID_AMOUNT", "INVALID_DIRECTION",
                               "INVALID_MARKET", "INVALID_MODE"}
        assert parsed.message


def test_the_over_limit_size_is_refused_with_the_limit_in_the_message():
    parsed = C.parse_frame('{"action": "DRIFT_SWAP", "id": "a", '
                           '"payload": {"direction": "sell", "size": "1000001"}}')
    assert isinstance(parsed, C.FrameError)
    assert parsed.code == "INVALID_SIZE" and "1,000,000" in parsed.message
    assert parsed.id == "a" and parsed.action == "DRIFT_SWAP"


def test_a_confirmation_id_travels_with_the_trade_and_a_malformed_one_is_refused():
    frame = {"action": "DRIFT_OPEN_POSITION", "id": "a", "payload": {
        "market": "SOL-PERP", "direction": "short", "size": "3",
        "confirmation_id": "Zq3_x-9"}}
    assert C.parse_frame(json.dumps(frame)).payload.confirmation_id == "Zq3_x-9"
    frame["payload"]["confirmation_id"] = "not an id"
    refused = C.parse_frame(json.dumps(frame))
    assert isinstance(refused, C.FrameError) and refused.code == "INVALID_ARGUMENT"
    assert "confirmation_id" in refused.message


def test_the_engines_quote_reaches_the_browser_with_the_refusal():
    from dne.engine.v1 import engine_pb2 as E
    from services.gateway import wire

    result = E.CommandResult(ok=False, action="DRIFT_OPEN_POSITION", confirmation=E.Confirmation(
        confirmation_id="q1", market="SOL-PERP", side="short", size="3", price="150",
        notional="450", estimated_fees="0.5", valid_for_ms=30_000, price_tolerance="0.005"))
    quote = wire.command_result(result, "DRIFT_OPEN_POSITION")["confirmation"]
    assert quote["confirmation_id"] == "q1" and quote["notional"] == 450.0
    assert quote["valid_for_ms"] == 30_000 and quote["expires_at"] is None
    assert wire.command_result(E.CommandResult(ok=True), "PING")["confirmation"] is None
