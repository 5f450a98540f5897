"""The program's State bits, a market's status, and the price limit of a market order."""

from __future__ import annotations

from decimal import Decimal

import pytest
from driftpy.math.exchange_status import exchange_paused
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.errors import DomainError, ErrorCode
from services.common.venue import Side
from services.executor.drift import venue_rules

PRICES = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(1_000_000), places=6)
TOLERANCES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("0.1"), places=4)


@settings(max_examples=200)
@given(price=PRICES, tolerance=TOLERANCES)
def test_property_14_price_limit_is_oracle_times_one_plus_s_for_buys_and_minus_s_for_sells(
    price: Decimal, tolerance: Decimal
) -> None:
    buy = venue_rules.price_limit(price, Side.LONG, tolerance)
    sell = venue_rules.price_limit(price, Side.SHORT, tolerance)
    step = venue_rules.PRICE_STEP
    assert price * (1 + tolerance) <= buy < price * (1 + tolerance) + step
    assert price * (1 - tolerance) - step < sell <= price * (1 - tolerance)
    assert buy.as_tuple().exponent >= -6 and sell.as_tuple().exponent >= -6


class _State:
    def __init__(self, status: int) -> None:
        self.exchange_status = status


def test_driftpys_exchange_paused_helper_is_wrong_so_the_bits_are_read_here() -> None:
    assert exchange_paused(_State(0))  # driftpy 0.8.89 says "paused" for an active program
    assert venue_rules.halt_reason(0) == ""
    assert "every operation is paused" in venue_rules.halt_reason(0xFF)


@pytest.mark.parametrize(
    ("status", "operation", "refused"),
    [
        (0x00, venue_rules.PERP_ORDER, False),
        (0x01, venue_rules.PERP_ORDER, False),   # deposits paused: orders still fill
        (0x01, venue_rules.DEPOSIT, True),
        (0x02, venue_rules.WITHDRAW, True),
        (0x08, venue_rules.PERP_ORDER, True),    # fills paused
        (0x04, venue_rules.PERP_ORDER, True),    # AMM paused
        (0x40, venue_rules.SETTLE, True),
        (0xFF, venue_rules.DEPOSIT, True),
    ],
)
def test_each_operation_is_refused_exactly_when_its_exchange_status_bit_is_set(
    status: int, operation: venue_rules.ExchangeBits, refused: bool
) -> None:
    if not refused:
        venue_rules.require_operation(status, operation, "trade")
        return
    with pytest.raises(DomainError) as error:
        venue_rules.require_operation(status, operation, "trade")
    assert error.value.code == ErrorCode.VENUE_HALTED
    assert "venue program is paused" in error.value.message


@pytest.mark.parametrize("status", ["Initialized", "FundingPaused", "ReduceOnly", "Delisted",
                                    "Settlement", "FillPaused", "AmmPaused"])
def test_opening_needs_an_active_market(status: str) -> None:
    with pytest.raises(DomainError) as error:
        venue_rules.require_market("SOL-PERP", 0, status, "Perpetual", increasing=True)
    assert error.value.code == ErrorCode.MARKET_NOT_TRADABLE
    assert error.value.message.startswith(f"SOL-PERP (perp market 0) is not active: its status "
                                          f"is {status}")


def test_reducing_is_allowed_in_reduce_only_but_not_in_a_delisted_market() -> None:
    venue_rules.require_market("SOL-PERP", 0, "ReduceOnly", "Perpetual", increasing=False)
    with pytest.raises(DomainError):
        venue_rules.require_market("SOL-PERP", 0, "Delisted", "Perpetual", increasing=False)
    with pytest.raises(DomainError, match="not a perpetual"):
        venue_rules.require_market("X", 5, "Active", "Prediction", increasing=True)
