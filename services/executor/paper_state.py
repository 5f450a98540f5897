"""The paper venue's whole state, and its JSON file written atomically after every mutation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically
from services.executor.domain import FundingPayment, Side
from services.executor.order_record import OrderRecord
from services.executor.order_record import time_from_json as _untime
from services.executor.order_record import time_to_json as _time

ZERO = Decimal(0)
STATE_VERSION = 1


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
    """One JSON file; a crash mid-write leaves the previous version (temp file + os.replace)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> PaperVenueState | None:
        if not self.path.exists():
            return None
        return state_from_json(json.loads(self.path.read_text()))

    def save(self, state: PaperVenueState) -> None:
        text = json.dumps(state_to_json(state), indent=1, sort_keys=True)
        write_atomically(self.path, text)


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


def state_to_json(state: PaperVenueState) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
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
                "funding_payments": [
                    _payment_to_json(p) for p in account.funding_payments.values()
                ],
            }
            for number, account in state.accounts.items()
        },
        "orders": {cid: record.to_json() for cid, record in state.orders.items()},
    }


def state_from_json(data: dict[str, Any]) -> PaperVenueState:
    if data.get("version") != STATE_VERSION:
        raise ValueError(
            f"paper venue state version {data.get('version')!r} is not {STATE_VERSION}"
        )
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
        for p in raw.get("funding_payments", []):
            payment = _payment_from_json(p)
            account.funding_payments[payment.payment_id] = payment
        state.accounts[int(number)] = account
    for cid, raw in data.get("orders", {}).items():
        state.orders[cid] = OrderRecord.from_json(raw)
    return state
