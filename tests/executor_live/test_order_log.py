"""The live order log is an append-only journal: a put costs one line whatever the history,
superseded lines are compacted away, a torn last line is dropped, old logs are migrated."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from services.common.venue import OrderKind, OrderResult, OrderStatus
from services.executor import journal_file
from services.executor.drift.order_log import OrderLog, SentOrder


def sent(cid: str, status: OrderStatus = OrderStatus.PENDING) -> SentOrder:
    return SentOrder(OrderResult(cid, OrderKind.DEPOSIT, status, "USDC",
                                 requested_size=Decimal(10)),
                     signature=f"sig-{cid}", blockhash="hash", last_valid_block_height=99,
                     base_before=0, quote_before=0, extra={"market_index": "0"})


def put(log: OrderLog, orders: dict[str, SentOrder], record: SentOrder) -> int:
    """As the journal puts: into the loaded dict, then the log writes it."""
    assert log.path is not None
    before = log.path.stat().st_size if log.path.exists() else 0
    orders[record.client_order_id] = record
    log.save(record)
    return log.path.stat().st_size - before


def test_a_put_writes_one_line_however_many_orders_came_before(tmp_path: Path) -> None:
    log = OrderLog(tmp_path / "live_orders.json")
    orders = log.load()
    for number in range(2000):
        put(log, orders, sent(f"o{number}"))
    record = orders["o1999"]
    sizes = [put(log, orders, sent("o2000")), put(log, orders, replace(
        record, result=replace(record.result, status=OrderStatus.FILLED)))]
    assert all(0 < size < 1024 for size in sizes), sizes
    reread = OrderLog(log.path).load()
    assert reread == orders and reread["o1999"].result.status is OrderStatus.FILLED


def test_superseded_lines_are_compacted_and_read_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_file, "COMPACT_MIN_LINES", 4)
    log = OrderLog(tmp_path / "live_orders.json")
    orders = log.load()
    record = sent("one")
    for _ in range(20):  # the same id over and over: all but the last line superseded
        put(log, orders, record)
    assert len(log.path.read_text().splitlines()) < 8  # type: ignore[union-attr]
    assert OrderLog(log.path).load() == orders


def test_a_torn_last_line_is_dropped_and_the_next_put_follows_the_last_whole_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live_orders.json"
    log = OrderLog(path)
    orders = log.load()
    put(log, orders, sent("kept"))
    with path.open("ab") as handle:
        handle.write(b'{"order":{"result":{"client_')  # the crash cut this put short
    again = OrderLog(path)
    orders = again.load()
    assert list(orders) == ["kept"]
    put(again, orders, sent("next"))
    assert list(OrderLog(path).load()) == ["kept", "next"]


def test_an_order_log_of_an_earlier_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "live_orders.json"
    old = sent("old", OrderStatus.UNKNOWN)
    path.write_text(json.dumps({"version": 1, "orders": {"old": old.to_json()}}, indent=1))
    assert OrderLog(path).load() == {"old": old}
    assert path.read_text().startswith('{"format": "dne-journal"')
    assert OrderLog(path).load() == {"old": old}


def test_an_order_log_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "live_orders.json"
    path.write_text(json.dumps({"version": 7, "orders": {}}, indent=1))
    with pytest.raises(ValueError, match="version 7"):
        OrderLog(path).load()
