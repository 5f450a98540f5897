"""One order as the executor keeps it, whatever the venue: its latest result, the settlement a
close made, and their JSON form (Decimals as strings, datetimes as ISO 8601, enums as values).

A driver that needs more (the live venue's signature and blockhash) subclasses OrderRecord and
extends `to_json` and `from_json`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.common.venue import OrderKind, OrderResult, OrderStatus, Side

# Sent, outcome not known yet: the only statuses an answered id may still leave.
NOT_FINAL = (OrderStatus.PENDING, OrderStatus.UNKNOWN)


@dataclass
class OrderRecord:
    result: OrderResult
    settlement: OrderResult | None = None  # the settlement a close made, if any

    @property
    def client_order_id(self) -> str:
        return self.result.client_order_id

    def as_replayed(self) -> OrderRecord:
        """The answer to the same id asked again: what is stored, marked replayed."""
        return OrderRecord(self.result.as_replayed(),
                           self.settlement.as_replayed() if self.settlement else None)

    def to_json(self) -> dict[str, Any]:
        return {
            "result": result_to_json(self.result),
            "settlement": result_to_json(self.settlement) if self.settlement else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderRecord:
        settlement = data.get("settlement")
        return cls(result_from_json(data["result"]),
                   result_from_json(settlement) if settlement else None)


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def undec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def time_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def time_from_json(value: str | None) -> datetime | None:
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
        "executed_at": time_to_json(result.executed_at),
    }
    if result.error_details:
        data["error_details"] = dict(result.error_details)
    for name in _RESULT_DECIMALS:
        data[name] = dec(getattr(result, name))
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
        executed_at=time_from_json(data.get("executed_at")),
        error_details=dict(data.get("error_details") or {}),
        **{name: undec(data.get(name)) for name in _RESULT_DECIMALS},
    )
