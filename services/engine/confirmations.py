"""The $100 confirmation, held by the engine: a quote the user confirms by its id.

A user trade above CONFIRM_ABOVE_USD without a confirmation id is refused with a quote: a
random single-use id, the trade as priced now, and an expiry. Only a request that carries that
id, for the same trade, before the expiry, with the price still within the slippage tolerance of
the quoted one, goes ahead. A flag the first request could set itself would let a script or a
replayed frame skip the human. Quotes live in memory only: after an engine restart the user
confirms a new one."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderKind, Side
from services.engine.preflight import ApprovedTrade

CONFIRMABLE = (OrderKind.PERP_OPEN, OrderKind.PERP_CLOSE, OrderKind.SPOT_BUY,
               OrderKind.SPOT_SELL)
# An expired quote is remembered this much longer, so its late use is named "expired" rather
# than "unknown"; the cap bounds the memory a flood of unconfirmed requests can take.
KEEP_EXPIRED_SEC = 600
MAX_QUOTES = 1000


@dataclass(frozen=True)
class ConfirmationQuote:
    """What the user is asked to confirm: the trade as priced now (as the gates wrote it),
    until `expires_at`."""

    confirmation_id: str
    action: str
    market: str
    side: str
    size: str
    price: str
    notional: str
    estimated_fees: str
    valid_for_ms: int
    price_tolerance: Decimal
    expires_at: datetime


class ConfirmationRefused(DomainError):
    """A refusal that carries a new quote for the trade as asked (None when it has none)."""

    def __init__(self, code: ErrorCode, message: str,
                 quote: ConfirmationQuote | None, **details: object) -> None:
        super().__init__(code, message, **details)
        self.quote = quote


@dataclass(frozen=True)
class Terms:
    """What a confirmation binds: the same trade on the same account."""

    action: str
    kind: OrderKind
    market: str
    side: Side | None
    size: Decimal
    unwind_spot: bool
    account: str
    sub_account: int


@dataclass
class Quote:
    terms: Terms
    price: Decimal | None
    expires_at: float           # on the injected monotonic clock
    redeemed_by: str = ""       # the request id that used it: only that one may present it again


class ConfirmationBook:
    def __init__(
        self,
        *,
        threshold_usd: Decimal,
        valid_for_sec: float,
        price_tolerance: Decimal,
        account: str,
        sub_account: int,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._threshold = threshold_usd
        self._valid_for = valid_for_sec
        self._tolerance = price_tolerance
        self._account = account
        self._sub_account = sub_account
        self._monotonic = monotonic
        self._wall = wall
        self._quotes: dict[str, Quote] = {}

    def needed(self, trade: ApprovedTrade) -> bool:
        """User trades above the threshold; automatic rebalances and the engine's own legs of
        an already confirmed command (request.confirmed) are exempt."""
        request = trade.request
        return (request.source == "user" and request.kind in CONFIRMABLE
                and not request.confirmed and trade.notional > self._threshold)

    def check(self, trade: ApprovedTrade) -> None:
        """Returns when the trade may go ahead; raises ConfirmationRefused otherwise."""
        if not self.needed(trade):
            return
        request = trade.request
        if not request.confirmation_id:
            raise self._refuse(ErrorCode.CONFIRMATION_REQUIRED, trade,
                               f"this trade of {trade.notional:.2f} USD is above "
                               f"{self._threshold} USD: confirm the quote by sending its "
                               f"confirmation_id within {self._valid_for:g} s")
        quote = self._quotes.get(request.confirmation_id)
        if quote is None:
            raise self._refuse(ErrorCode.CONFIRMATION_EXPIRED, trade,
                               "the confirmation id is unknown (expired, or quoted before an "
                               "engine restart): confirm the new quote")
        if quote.terms != self._terms(trade):
            raise self._refuse(ErrorCode.CONFIRMATION_MISMATCH, trade,
                               f"the confirmation was quoted for {_describe(quote.terms)}, "
                               f"this request asks {_describe(self._terms(trade))}")
        if quote.redeemed_by and quote.redeemed_by != request.request_id:
            raise self._refuse(ErrorCode.CONFIRMATION_MISMATCH, trade,
                               f"the confirmation was already used by request "
                               f"{quote.redeemed_by}: each confirmation trades once")
        if self._monotonic() > quote.expires_at:
            raise self._refuse(ErrorCode.CONFIRMATION_EXPIRED, trade,
                               f"the confirmation expired ({self._valid_for:g} s after its "
                               "quote): confirm the new quote")
        moved = self._moved(quote.price, trade.price)
        if moved is not None:
            raise self._refuse(ErrorCode.CONFIRMATION_REQUIRED, trade,
                               f"the price moved from {quote.price} to {trade.price} "
                               f"({moved:.2%}, more than the {self._tolerance:.2%} tolerance) "
                               "since the quote: confirm the new quote")
        quote.redeemed_by = request.request_id

    def _moved(self, quoted: Decimal | None, now: Decimal | None) -> Decimal | None:
        """The price's move since the quote when beyond the tolerance, else None."""
        if quoted is None or now is None or quoted == 0:
            return None
        move = abs(now - quoted) / quoted
        return move if move > self._tolerance else None

    def _refuse(self, code: ErrorCode, trade: ApprovedTrade, why: str) -> ConfirmationRefused:
        quote = self._issue(trade)
        return ConfirmationRefused(code, why, quote, **trade.details(),
                                   confirmation_id=quote.confirmation_id,
                                   valid_for_ms=quote.valid_for_ms)

    def _issue(self, trade: ApprovedTrade) -> ConfirmationQuote:
        self._forget_old()
        # Hex, not URL-safe base64: an id starting with '-' reads as an option on a command
        # line (`dne open ... --confirm -Xy`).
        confirmation_id = secrets.token_hex(16)
        self._quotes[confirmation_id] = Quote(self._terms(trade), trade.price,
                                              self._monotonic() + self._valid_for)
        details = trade.details()
        return ConfirmationQuote(
            confirmation_id=confirmation_id, action=trade.request.action,
            market=details["market"], side=details["side"], size=details["size"],
            price=details["price"], notional=details["notional"],
            estimated_fees=details["estimated_fees"],
            valid_for_ms=int(self._valid_for * 1000), price_tolerance=self._tolerance,
            expires_at=self._wall() + timedelta(seconds=self._valid_for),
        )

    def _forget_old(self) -> None:
        cutoff = self._monotonic() - KEEP_EXPIRED_SEC
        for confirmation_id, quote in list(self._quotes.items()):
            if quote.expires_at < cutoff:
                del self._quotes[confirmation_id]
        while len(self._quotes) >= MAX_QUOTES:
            del self._quotes[next(iter(self._quotes))]  # the oldest: dicts keep their order

    def _terms(self, trade: ApprovedTrade) -> Terms:
        request = trade.request
        return Terms(request.action, request.kind, request.market, trade.side, trade.size,
                     request.unwind_spot, self._account, self._sub_account)


def _describe(terms: Terms) -> str:
    side = terms.side.value if terms.side else "-"
    return f"{terms.action} {side} {terms.size} {terms.market}"
