from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.decimals import MAX_ABS, parse_decimal, to_wire
from services.common.errors import DomainError, ErrorCode

JUNK = ["", "  ", "abc", "NaN", "nan", "Infinity", "-inf", "1e999", "1,5"]


@pytest.mark.parametrize("text", JUNK)
def test_parse_decimal_refuses_junk_with_the_given_code(text: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_decimal(text, "size", code=ErrorCode.INVALID_SIZE)
    assert refused.value.code == ErrorCode.INVALID_SIZE
    assert "size" in refused.value.message


@pytest.mark.parametrize("text", ["0", "-1", "-0.0001"])
def test_parse_decimal_positive_refuses_zero_and_negatives(text: str) -> None:
    with pytest.raises(DomainError, match="greater than zero"):
        parse_decimal(text, "amount", positive=True)


def test_parse_decimal_refuses_values_beyond_the_bound() -> None:
    with pytest.raises(DomainError, match="out of range"):
        parse_decimal(str(MAX_ABS * 10), "amount")


@given(st.decimals(min_value=-MAX_ABS, max_value=MAX_ABS, allow_nan=False, places=9))
def test_to_wire_round_trips_through_parse_decimal(value: Decimal) -> None:
    text = to_wire(value)
    assert "E" not in text and "e" not in text
    assert parse_decimal(text, "value") == value


def test_to_wire_formats_without_exponent_or_trailing_zeros() -> None:
    assert to_wire(Decimal("1E-7")) == "0.0000001"
    assert to_wire(Decimal("12.3400")) == "12.34"
    assert to_wire(Decimal("-0.000")) == "0"
    assert to_wire(Decimal("2.5"), places=0) == "2"
    assert to_wire(None) == ""
