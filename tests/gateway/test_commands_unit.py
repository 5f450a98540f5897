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
