"""The paper venue's whole state, and its JSON file written atomically after every mutation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically
from services.executor.domain import (
    FundingPayment,
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
)

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
class OrderRecord:
    result: OrderResult
    settlement: OrderResult | None = None  # the settlement a close made, if any


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


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _untime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


_RESULT_DECIMALS = (
    "requested_size", "filled_size", "fill_price", "oracle_price", "slippage", "fee", "notional",
)


def result_to_json(result: OrderResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_order_id": result.client_order_id,
        "kind": result.kind.value,
        "status": result.status.value,
        "market": result.market,
        "side": result.side.value if result.side else None,
        "tx_signature": result.tx_signature,
        "error_code": result.error_code,
        "error_message": result.error_message,
        "executed_at": _time(result.executed_at),
    }
    if result.error_details:
        data["error_details"] = dict(result.error_details)
    for name in _RESULT_DECIMALS:
        data[name] = _dec(getattr(result, name))
    return data


def result_from_json(data: dict[str, Any]) -> OrderResult:
    return OrderResult(
        client_order_id=data["client_order_id"],
        kind=OrderKind(data["kind"]),
        status=OrderStatus(data["status"]),
        market=data["market"],
        side=Side(data["side"]) if data.get("side") else None,
        tx_signature=data.get("tx_signature", ""),
        error_code=data.get("error_code", ""),
        error_message=data.get("error_message", ""),
        executed_at=_untime(data.get("executed_at")),
        error_details=dict(data.get("error_details") or {}),
        **{name: _undec(data.get(name)) for name in _RESULT_DECIMALS},
    )


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
        "orders": {
            cid: {
                "result": result_to_json(record.result),
                "settlement": result_to_json(record.settlement) if record.settlement else None,
            }
            for cid, record in state.orders.items()
        },
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
        settlement = raw.get("settlement")
        state.orders[cid] = OrderRecord(
            result=result_from_json(raw["result"]),
            settlement=result_from_json(settlement) if settlement else None,
        )
    return state
