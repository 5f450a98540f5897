"""Client order id -> the transaction sent for it and its outcome, in an append-only journal
(LIVE_STATE_PATH, services.executor.journal_file): a line before every send and after every
outcome.

A restart reads it back: an id seen before is answered from here, and an order left PENDING
is resolved from its signature instead of being sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.executor.journal_file import JournalFile, LegacyDocument
from services.executor.order_record import OrderRecord

log = logging.getLogger(__name__)
LEGACY_VERSION = 1  # the whole-file log written before the journal


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
    """The live orders on disk (None: memory only, for tests): one line per put, the last
    line of an id wins; compacted to one line per order when most lines are superseded
    (every order takes a line before its send and one per outcome)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file = JournalFile(path, "live orders") if path is not None else None
        self._orders: dict[str, SentOrder] = {}

    def load(self) -> dict[str, SentOrder]:
        """The orders read back; the journal keeps this dict and puts into it."""
        if self._file is None:
            return self._orders
        try:
            lines = self._file.read()
        except LegacyDocument as legacy:
            self._orders = _legacy_orders(self.path, legacy.document)
            self._compact()
            log.info("live order log migrated to the journal format",
                     extra={"path": str(self.path), "orders": len(self._orders)})
            return self._orders
        for line in lines:
            record = SentOrder.from_json(line["order"])
            self._orders[record.client_order_id] = record
            if record.settlement is not None:
                self._orders[record.settlement.client_order_id] = SentOrder(record.settlement)
        return self._orders

    def save(self, record: SentOrder) -> None:
        """Called by the journal once it put `record` in the dict `load` returned."""
        if self._file is None:
            return
        self._file.append({"order": record.to_json()})
        if self._file.worth_compacting(len(self._orders)):
            try:
                self._compact()
            except Exception:  # the put is on disk: a failed compaction only costs space
                log.warning("live order log not compacted", exc_info=True,
                            extra={"path": str(self.path)})

    def _compact(self) -> None:
        assert self._file is not None
        self._file.rewrite({"order": r.to_json()} for r in self._orders.values())


def _legacy_orders(path: Path | None, document: dict[str, Any]) -> dict[str, SentOrder]:
    """The whole-file log of earlier versions (version 1)."""
    if document.get("version") != LEGACY_VERSION:
        raise ValueError(f"live order log version {document.get('version')!r} is not "
                         f"{LEGACY_VERSION} ({path})")
    return {cid: SentOrder.from_json(raw) for cid, raw in document["orders"].items()}
