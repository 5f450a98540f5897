"""Decimal parsing and formatting for the wire: money is a decimal string, never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from services.common.errors import DomainError, ErrorCode

ZERO = Decimal(0)
# Largest magnitude accepted from a client: beyond any real balance, small enough for
# every database column and every multiplication we do.
MAX_ABS = Decimal("1e15")


def parse_decimal(
    text: str,
    field: str,
    *,
    code: ErrorCode = ErrorCode.INVALID_ARGUMENT,
    positive: bool = False,
    allow_empty: bool = False,
) -> Decimal:
    """Parses a finite decimal string, refusing NaN, infinities, exponents out of range and junk."""
    raw = (text or "").strip()
    if not raw:
        if allow_empty:
            return ZERO
        raise DomainError(code, f"{field} is required: expected a decimal number, found nothing")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError(code, f"{field} must be a decimal number, found {raw[:40]!r}") from None
    if not value.is_finite():
        raise DomainError(code, f"{field} must be a finite number, found {raw[:40]!r}")
    if abs(value) > MAX_ABS:
        raise DomainError(code, f"{field} is out of range: {raw[:40]!r} exceeds {MAX_ABS:,.0f}")
    if positive and value <= 0:
        raise DomainError(code, f"{field} must be greater than zero, found {raw[:40]!r}")
    return value


def to_wire(value: Decimal | int | None, places: int | None = None) -> str:
    """Formats for the wire without exponent notation; `places` rounds half-even."""
    if value is None:
        return ""
    number = Decimal(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def from_wire(text: str, default: Decimal = ZERO) -> Decimal:
    """Reads a decimal string that a trusted service wrote; empty means `default`."""
    return Decimal(text) if text else default
