"""A sub-account's funding payments in time order, kept as they are added, so an account read
that asks for the payments since some time costs a bisection instead of a sort of every
payment ever made (a paper venue held for months, a year-long backtest)."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from itertools import islice

from services.common.venue import FundingPayment
from services.executor.paper_state import SubAccount

ONE_HOUR = timedelta(hours=1)


def _order(payment: FundingPayment) -> tuple[datetime, str]:
    return payment.period_start, payment.market


class PaymentOrder:
    """Payments are only ever added to a sub-account (a dict keeps their insertion order), so
    the ones added since the last read are the dict's last entries."""

    def __init__(self) -> None:
        # sub-account -> (the SubAccount object, payments seen, those payments in order)
        self._seen: dict[int, tuple[SubAccount, int, list[FundingPayment]]] = {}

    def since(self, sub_account: int, account: SubAccount,
              funding_since: datetime | None) -> list[FundingPayment]:
        """Payments settled at or after `funding_since` (the payment of hour H settles at
        H + 1h), ordered by period start then market; all of them when it is None."""
        ordered = self._ordered(sub_account, account)
        if funding_since is None:
            return list(ordered)
        first = bisect.bisect_left(ordered, funding_since - ONE_HOUR,
                                   key=lambda payment: payment.period_start)
        return ordered[first:]

    def _ordered(self, sub_account: int, account: SubAccount) -> list[FundingPayment]:
        payments = account.funding_payments
        seen = self._seen.get(sub_account)
        # Another SubAccount object (a loaded or restored state) or fewer payments: start over.
        if seen is None or seen[0] is not account or seen[1] > len(payments):
            ordered = sorted(payments.values(), key=_order)
        else:
            ordered = seen[2]
            for payment in islice(reversed(payments.values()), len(payments) - seen[1]):
                bisect.insort(ordered, payment, key=_order)
        self._seen[sub_account] = (account, len(payments), ordered)
        return ordered
