"""Client order id -> the transaction sent for it and its outcome, in one JSON file
(LIVE_STATE_PATH), written atomically before every send and after every outcome.

A restart reads it back: an id seen before is answered from here, and an order left PENDING
is resolved from its signature instead of being sent again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.common.atomic_file import write_atomically
from services.executor.order_record import OrderRecord

LOG_VERSION = 1


@dataclass
class SentOrder(OrderRecord):
    """One order: its latest result, and the transaction that carries it once signed."""

    signature: str = ""
    blockhash: str = ""
    last_valid_block_height: int = 0
    # What the fill is measured against when it is resolved later: the perp position's base
    # amount (1e-9) and quote asset amount (1e-6) before the order.
    base_before: int | None = None
    quote_before: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **super().to_json(),
            "signature": self.signature,
            "blockhash": self.blockhash,
            "last_valid_block_height": self.last_valid_block_height,
            "base_before": self.base_before,
            "quote_before": self.quote_before,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentOrder:
        plain = OrderRecord.from_json(data)
        return cls(
            result=plain.result,
            settlement=plain.settlement,
            signature=data.get("signature", ""),
            blockhash=data.get("blockhash", ""),
            last_valid_block_height=int(data.get("last_valid_block_height", 0)),
            base_before=data.get("base_before"),
            quote_before=data.get("quote_before"),
            extra=dict(data.get("extra") or {}),
        )


class OrderLog:
    """The orders mirrored to `path` (None: memory only, for tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.orders: dict[str, SentOrder] = {}

    def load(self) -> dict[str, SentOrder]:
        if self.path is None or not self.path.exists():
            return self.orders
        data = json.loads(self.path.read_text())
        if data.get("version") != LOG_VERSION:
            raise ValueError(f"live order log version {data.get('version')!r} is not "
                             f"{LOG_VERSION} ({self.path})")
        self.orders = {cid: SentOrder.from_json(raw) for cid, raw in data["orders"].items()}
        return self.orders

    def save(self, record: SentOrder) -> None:
        """Called by the journal after it put `record` in the dict `load` returned."""
        if self.path is None:
            return
        text = json.dumps({"version": LOG_VERSION,
                           "orders": {cid: r.to_json() for cid, r in self.orders.items()}},
                          indent=1, sort_keys=True)
        write_atomically(self.path, text)
