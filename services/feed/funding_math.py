"""The definitions of design.md's FundingMarket, in one place: Drift pays funding hourly."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

HOUR = timedelta(hours=1)
HOURS_PER_YEAR = 24 * 365
PERCENT = 100
LONGS_PAY = "shorts"   # positive rate: longs pay shorts, so shorts receive
SHORTS_PAY = "longs"   # zero or negative rate: shorts pay longs (or nobody pays)


def rate_8h(rate_1h: Decimal) -> Decimal:
    return rate_1h * 8


def apr_percent(rate_1h: Decimal) -> Decimal:
    """Simple annualisation, as Drift's UI shows it: rate_1h x 24 x 365 x 100."""
    return rate_1h * HOURS_PER_YEAR * PERCENT


def receiving_side(rate_1h: Decimal) -> str:
    """Who receives funding: "shorts" when rate_1h > 0, else "longs"."""
    return LONGS_PAY if rate_1h > 0 else SHORTS_PAY


def floor_to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_to_hour(moment: datetime) -> datetime:
    floored = floor_to_hour(moment)
    return floored if floored == moment else floored + HOUR


def last_settled_period(now: datetime) -> datetime:
    """The funding hour that settled most recently: it started one hour before this hour."""
    return floor_to_hour(now) - HOUR
