"""The paper venue's state, and its file: an append-only journal of changes (StateFile)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.common.venue import FundingPayment, Side
from services.executor.journal_file import JournalFile, LegacyDocument
from services.executor.order_record import OrderRecord
from services.executor.order_record import time_from_json as _untime
from services.executor.order_record import time_to_json as _time

log = logging.getLogger(__name__)

ZERO = Decimal(0)
LEGACY_VERSION = 1  # the whole-state JSON document written before the journal
PAYMENTS_PER_LINE = 100  # when a compaction writes the funding history


@dataclass
class PaperPosition:
    market: str
    signed_size: Decimal  # positive long, negative short
    entry_price: Decimal
    funding_pnl: Decimal = ZERO
    settled_pnl: Decimal = ZERO  # funding and settled price PnL moved into the quote balance
    # Price PnL of the open position already moved into the quote balance (Drift's settle_pnl
    # settles unrealized PnL too); unrealized PnL is counted net of it.
    price_pnl_settled: Decimal = ZERO

    @property
    def side(self) -> Side:
        return Side.LONG if self.signed_size > 0 else Side.SHORT


@dataclass
class SubAccount:
    quote_balance: Decimal = ZERO
    positions: dict[str, PaperPosition] = field(default_factory=dict)
    unsettled_pnl: dict[str, Decimal] = field(default_factory=dict)  # realized, not yet settled
    last_funding_settled: datetime | None = None
    funding_payments: dict[str, FundingPayment] = field(default_factory=dict)

    @property
    def total_unsettled(self) -> Decimal:
        return sum(self.unsettled_pnl.values(), ZERO)


@dataclass
class PaperVenueState:
    wallet_usdc: Decimal
    wallet_sol: Decimal
    accounts: dict[int, SubAccount] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)

    def account(self, sub_account: int) -> SubAccount:
        return self.accounts.setdefault(sub_account, SubAccount())


class StateFile:
    """The paper venue on disk: an append-only journal (services.executor.journal_file) in which
    every change is one line holding all it changed:

        {"order": the order's record (absent for a funding-only change),
         "venue": wallet and sub-accounts (balances, positions, unsettled PnL),
         "funding": the payments this change settled, each with its sub-account}

    Crash consistency: an order's record, the balances it leaves and the funding it settled
    are one line, and a line is on disk whole or not at all (a torn last line is dropped), so
    after a crash at any point an order is on record iff its effect on the balances is: the
    venue read back is the one its last whole line describes. The venue part is small (the
    balances and open positions, not the history) and the last line's wins. Orders and funding
    payments are history: each is written once, in the line of the change that made it, never
    rewritten (the last line of an id wins). When most lines are superseded (funding-only
    changes that settled nothing), the file is rewritten atomically as one line per order,
    the payments, and the venue (`save`).

    A state file of an earlier version (one JSON document) is migrated when loaded.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = JournalFile(path, "paper venue")
        self._written_payments: set[str] = set()
        self._funding_lines = 0

    def load(self) -> PaperVenueState | None:
        try:
            lines = self._file.read()
        except LegacyDocument as legacy:
            state = state_from_json(legacy.document)
            self.save(state)
            log.info("paper venue state migrated to the journal format",
                     extra={"path": str(self.path), "orders": len(state.orders)})
            return state
        if not lines:
            return None
        venue: dict[str, Any] | None = None
        for line in lines:
            venue = line.get("venue", venue)
        if venue is None:
            raise ValueError(f"{self.path} holds no venue state")
        state = _venue_from_json(venue)
        self._funding_lines = 0
        for line in lines:
            if "order" in line:
                _put_order(state, OrderRecord.from_json(line["order"]))
            if line.get("funding"):
                self._funding_lines += 1
                for raw in line["funding"]:
                    payment = _payment_from_json(raw)
                    state.account(raw["sub_account"]).funding_payments[payment.payment_id] = \
                        payment
        self._written_payments = {pid for account in state.accounts.values()
                                  for pid in account.funding_payments}
        return state

    def append(self, record: OrderRecord | None, state: PaperVenueState) -> int:
        """One change: `record` (if any), the venue it leaves and the payments not yet written,
        in one line; answers the bytes written."""
        payments = self._unwritten_payments(state)
        line: dict[str, Any] = {"venue": _venue_to_json(state)}
        if record is not None:
            line["order"] = record.to_json()
        if payments:
            line["funding"] = [{"sub_account": number, **_payment_to_json(payment)}
                               for number, payment in payments]
        written = self._file.append(line)
        self._written_payments.update(payment.payment_id for _, payment in payments)
        self._funding_lines += bool(payments)
        if self._file.worth_compacting(len(state.orders) + self._funding_lines + 1):
            self._compact(state)
        return written

    def _compact(self, state: PaperVenueState) -> None:
        """The change is already on disk: a failed compaction only leaves the file longer."""
        try:
            self.save(state)
        except Exception:
            log.warning("paper venue state not compacted", exc_info=True,
                        extra={"path": str(self.path)})

    def save(self, state: PaperVenueState) -> None:
        """The whole state as a fresh file, renamed over the old one: at the first start, to
        migrate, and to compact."""
        payments = [{"sub_account": number, **_payment_to_json(payment)}
                    for number, account in state.accounts.items()
                    for payment in account.funding_payments.values()]
        chunks = [payments[i:i + PAYMENTS_PER_LINE]
                  for i in range(0, len(payments), PAYMENTS_PER_LINE)]
        self._file.rewrite([
            *({"order": record.to_json()} for record in state.orders.values()),
            *({"funding": chunk} for chunk in chunks),
            {"venue": _venue_to_json(state)},
        ])
        self._written_payments = {p["payment_id"] for p in payments}
        self._funding_lines = len(chunks)

    def _unwritten_payments(self, state: PaperVenueState) -> list[tuple[int, FundingPayment]]:
        held = sum(len(account.funding_payments) for account in state.accounts.values())
        if held == len(self._written_payments):
            return []  # the usual case, without looking through the history
        return [(number, payment) for number, account in state.accounts.items()
                for pid, payment in account.funding_payments.items()
                if pid not in self._written_payments]


def _put_order(state: PaperVenueState, record: OrderRecord) -> None:
    state.orders[record.client_order_id] = record
    if record.settlement is not None:
        state.orders[record.settlement.client_order_id] = OrderRecord(record.settlement)


# --- JSON form: Decimals as strings, datetimes as ISO 8601, enums as their values.


def _payment_to_json(payment: FundingPayment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "market": payment.market,
        "period_start": _time(payment.period_start),
        "rate_1h": str(payment.rate_1h),
        "side": payment.side.value,
        "size": str(payment.size),
        "oracle_price": str(payment.oracle_price),
        "amount": str(payment.amount),
    }


def _payment_from_json(data: dict[str, Any]) -> FundingPayment:
    return FundingPayment(
        payment_id=data["payment_id"],
        market=data["market"],
        period_start=datetime.fromisoformat(data["period_start"]),
        rate_1h=Decimal(data["rate_1h"]),
        side=Side(data["side"]),
        size=Decimal(data["size"]),
        oracle_price=Decimal(data["oracle_price"]),
        amount=Decimal(data["amount"]),
    )


def _venue_to_json(state: PaperVenueState) -> dict[str, Any]:
    """Balances and open positions: what the last line says the venue holds now."""
    return {
        "wallet": {"usdc": str(state.wallet_usdc), "sol": str(state.wallet_sol)},
        "accounts": {
            str(number): {
                "quote_balance": str(account.quote_balance),
                "last_funding_settled": _time(account.last_funding_settled),
                "unsettled_pnl": {m: str(v) for m, v in account.unsettled_pnl.items()},
                "positions": [
                    {
                        "market": p.market,
                        "signed_size": str(p.signed_size),
                        "entry_price": str(p.entry_price),
                        "funding_pnl": str(p.funding_pnl),
                        "settled_pnl": str(p.settled_pnl),
                        "price_pnl_settled": str(p.price_pnl_settled),
                    }
                    for p in account.positions.values()
                ],
            }
            for number, account in state.accounts.items()
        },
    }


def _venue_from_json(data: dict[str, Any]) -> PaperVenueState:
    state = PaperVenueState(
        wallet_usdc=Decimal(data["wallet"]["usdc"]), wallet_sol=Decimal(data["wallet"]["sol"])
    )
    for number, raw in data["accounts"].items():
        account = SubAccount(
            quote_balance=Decimal(raw["quote_balance"]),
            last_funding_settled=_untime(raw.get("last_funding_settled")),
            unsettled_pnl={m: Decimal(v) for m, v in raw.get("unsettled_pnl", {}).items()},
        )
        for p in raw.get("positions", []):
            account.positions[p["market"]] = PaperPosition(
                market=p["market"],
                signed_size=Decimal(p["signed_size"]),
                entry_price=Decimal(p["entry_price"]),
                funding_pnl=Decimal(p["funding_pnl"]),
                settled_pnl=Decimal(p["settled_pnl"]),
                price_pnl_settled=Decimal(p.get("price_pnl_settled", "0")),
            )
        state.accounts[int(number)] = account
    return state


def state_from_json(data: dict[str, Any]) -> PaperVenueState:
    """The whole-state document of earlier versions (version 1), for migration."""
    if data.get("version") != LEGACY_VERSION:
        raise ValueError(
            f"paper venue state version {data.get('version')!r} is not {LEGACY_VERSION}"
        )
    state = _venue_from_json(data)
    for number, raw in data["accounts"].items():
        for p in raw.get("funding_payments", []):
            payment = _payment_from_json(p)
            state.account(int(number)).funding_payments[payment.payment_id] = payment
    for cid, raw in data.get("orders", {}).items():
        state.orders[cid] = OrderRecord.from_json(raw)
    return state
