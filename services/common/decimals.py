"""Decimal parsing and formatting for the wire: money is a decimal string, never a float.

An exponent is never expanded unchecked: "1E-999999999" is twelve characters that format(x, "f")
turns into a billion zeros, so input is bounded in length, magnitude and places before use."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext

from services.common.errors import DomainError, ErrorCode

ZERO = Decimal(0)
# Largest magnitude accepted from a client: beyond any real balance, small enough for
# every database column and every multiplication we do.
MAX_ABS = Decimal("1e15")
# Longer than any amount anyone types or any service writes, short enough to parse at once.
MAX_CHARS = 64
# The vault keeps up to 40 places of what the services compute (a rate times a price);
# client amounts are held tighter by their callers (USDC 6, SOL 9).
MAX_PLACES = 40
# to_wire's bounds: a trusted value never reaches them, an untrusted one must not allocate.
MAX_WIRE_PLACES = MAX_PLACES
MAX_WIRE_INTEGER_DIGITS = 40


def parse_decimal(
    text: str,
    field: str,
    *,
    code: ErrorCode = ErrorCode.INVALID_ARGUMENT,
    positive: bool = False,
    allow_empty: bool = False,
    places: int = MAX_PLACES,
) -> Decimal:
    """Parses a finite decimal string, refusing NaN, infinities, exponents out of range, more
    than `places` decimal places, overlong input and junk."""
    raw = (text or "").strip()
    if not raw:
        if allow_empty:
            return ZERO
        raise DomainError(code, f"{field} is required: expected a decimal number, found nothing")
    quoted = f"{raw[:40]!r}{'...' if len(raw) > 40 else ''}"
    if len(raw) > MAX_CHARS:
        raise DomainError(code, f"{field} must be at most {MAX_CHARS} characters, found "
                                f"{len(raw)}: {quoted}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError(code, f"{field} must be a decimal number, found {quoted}") from None
    if not value.is_finite():
        raise DomainError(code, f"{field} must be a finite number, found {quoted}")
    if value.is_zero():
        value = ZERO  # "-0" and "0E-999999999" alike: their exponent would be expanded later
    elif _places(value) > places:
        raise DomainError(code, f"{field} has more than {places} decimal places, found {quoted}")
    # adjusted() and copy_abs() are exact: abs() would round, or raise Overflow on 1E+999999999.
    if value.adjusted() > MAX_ABS.adjusted() or value.copy_abs() > MAX_ABS:
        raise DomainError(code, f"{field} is out of range: {quoted} exceeds {MAX_ABS:,.0f}")
    if positive and value <= 0:
        raise DomainError(code, f"{field} must be greater than zero, found {quoted}")
    return value


def _places(value: Decimal) -> int:
    """Decimal places without trailing zeros, counted exactly: normalize() would round
    1E-999999999 to 0 in the default context and let it through."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def to_wire(value: Decimal | int | None, places: int | None = None) -> str:
    """Formats for the wire without exponent notation; `places` rounds half-even.

    A value with more than MAX_WIRE_PLACES places is rounded to them; one with more than
    MAX_WIRE_INTEGER_DIGITS integer digits raises ValueError instead of being written out."""
    if value is None:
        return ""
    number = Decimal(value)
    if not number.is_finite():
        return format(number, "f")  # "Infinity": a health ratio without margin, on purpose
    if number.is_zero():
        return "0"
    if number.adjusted() >= MAX_WIRE_INTEGER_DIGITS:
        raise ValueError(f"{str(number)[:40]} is too large for the wire")
    # Only a value written with more places than the wire keeps needs counting (the count is
    # slow, and nearly every value the services write has a handful of places).
    if places is None and -number.as_tuple().exponent > MAX_WIRE_PLACES and (
            _places(number) > MAX_WIRE_PLACES):
        places = MAX_WIRE_PLACES
    if places is not None:
        with localcontext() as context:
            context.prec = MAX_WIRE_INTEGER_DIGITS + max(places, 0) + 2
            number = number.quantize(Decimal(1).scaleb(-places))
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def from_wire(text: str, default: Decimal = ZERO) -> Decimal:
    """Reads a decimal string that a trusted service wrote; empty means `default`."""
    return Decimal(text) if text else default
