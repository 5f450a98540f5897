"""Issue 11: one small number must not stall the system. Untrusted decimals are bounded in
length, exponent and decimal places before anything expands them, and every refusal is fast."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from services.common.decimals import MAX_CHARS, parse_decimal, to_wire
from services.common.errors import DomainError, ErrorCode

FAST_SECONDS = 0.1
HOSTILE = [
    "1E-999999999", "1E+999999999", "-1E-999999999", "1E+16", "-1E+999999999",
    "1e-41", "9" * 10_000, "0." + "0" * 9_999 + "1", "1" + "0" * 9_999,
    "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf",
]


def refused(text: str, **options: object) -> DomainError:
    started = time.perf_counter()
    with pytest.raises(DomainError) as caught:
        parse_decimal(text, "amount", code=ErrorCode.INVALID_AMOUNT, **options)  # type: ignore[arg-type]
    assert time.perf_counter() - started < FAST_SECONDS
    return caught.value


@pytest.mark.parametrize("text", HOSTILE, ids=lambda text: text[:16])
def test_a_hostile_decimal_is_refused_quickly_with_the_callers_code(text: str) -> None:
    error = refused(text)
    assert error.code == ErrorCode.INVALID_AMOUNT
    assert "amount" in error.message
    assert len(error.message) < 200  # quotes a prefix, never the whole input


def test_a_tiny_positive_amount_is_refused_although_normalize_would_round_it_to_zero() -> None:
    # Decimal("1E-999999999").normalize() is 0 in the default context: counting places on the
    # normalized value let it through, and to_wire then wrote a billion zeros.
    assert "decimal places" in refused("1E-999999999", positive=True).message


def test_input_longer_than_the_bound_is_refused_before_parsing() -> None:
    assert f"{MAX_CHARS} characters" in refused("1" + "0" * MAX_CHARS).message


def test_the_places_bound_is_the_callers() -> None:
    assert parse_decimal("1e-18", "amount", places=18) == Decimal("1e-18")
    assert "more than 18 decimal places" in refused("1e-19", places=18).message
    # Trailing zeros are not places: 1.50000 has one.
    assert parse_decimal("1.50000", "amount", places=1) == Decimal("1.5")


def test_zero_in_any_spelling_is_plain_zero_and_not_positive() -> None:
    for text in ("-0", "0E-999999999", "0E+999999999", "-0.000"):
        value = parse_decimal(text, "amount")
        assert value == 0 and to_wire(value) == "0"
        assert "greater than zero" in refused(text, positive=True).message


def test_a_value_just_inside_the_bounds_is_kept_exactly() -> None:
    assert parse_decimal("999999999999999.999999", "amount") == Decimal("999999999999999.999999")
    assert parse_decimal("1e15", "amount") == Decimal("1e15")
    assert "out of range" in refused("1.000000000000000000000000000001e15").message


@pytest.mark.parametrize("value", [
    Decimal("1E-999999999"), Decimal("-1E-999999999"), Decimal("0E-999999999"),
    Decimal("1E+999999999"), Decimal("1E+100000"),
], ids=str)
def test_to_wire_never_expands_an_exponent_out_of_bounds(value: Decimal) -> None:
    started = time.perf_counter()
    try:
        text = to_wire(value)
    except ValueError:
        text = ""
    assert time.perf_counter() - started < FAST_SECONDS
    assert len(text) < 100


def test_to_wire_rounds_a_tiny_value_to_zero_and_refuses_a_huge_one() -> None:
    assert to_wire(Decimal("1E-999999999")) == "0"
    assert to_wire(Decimal("0E-999999999")) == "0"
    with pytest.raises(ValueError, match="too large"):
        to_wire(Decimal("1E+999999999"))


def test_to_wire_keeps_what_trusted_services_send() -> None:
    assert to_wire(Decimal("Infinity")) == "Infinity"  # an infinite health ratio, on purpose
    assert to_wire(Decimal("1.2345678901234567890123456789E-12")) == (
        "0.0000000000012345678901234567890123456789")
    assert to_wire(Decimal("123456789012345678901234567890")) == "123456789012345678901234567890"
