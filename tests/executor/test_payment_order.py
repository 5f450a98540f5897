"""The ordered payments an account read answers are exactly the sorted, filtered payments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.venue import FundingPayment, Side
from services.executor.paper_state import SubAccount
from services.executor.payment_order import PaymentOrder

START = datetime(2026, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def payment(market: str, hour: int) -> FundingPayment:
    return FundingPayment(f"0:{market}:{hour}", market, START + hour * HOUR, Decimal("0.0001"),
                          Side.SHORT, Decimal(1), Decimal(100), Decimal("0.01"))


def reference(account: SubAccount, since: datetime | None) -> list[FundingPayment]:
    return sorted((p for p in account.funding_payments.values()
                   if since is None or p.period_start + HOUR >= since),
                  key=lambda p: (p.period_start, p.market))


steps = st.lists(st.one_of(
    st.tuples(st.just("add"), st.sampled_from(["BTC-PERP", "SOL-PERP", "ETH-PERP"]),
              st.integers(0, 200)),
    st.tuples(st.just("read"), st.none() | st.integers(0, 210)),
    st.tuples(st.just("reload")),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(steps=steps)
def test_reads_equal_the_sorted_filtered_payments(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    order = PaymentOrder()
    account = SubAccount()
    for step in steps:
        if step[0] == "add":
            made = payment(step[1], step[2])
            account.funding_payments.setdefault(made.payment_id, made)
        elif step[0] == "reload":   # a state loaded from disk: another object, same payments
            account = SubAccount(funding_payments=dict(account.funding_payments))
        else:
            since = None if step[1] is None else START + step[1] * HOUR
            assert order.since(0, account, since) == reference(account, since)
