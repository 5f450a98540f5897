"""The paper venue's state file is an append-only journal: a crash at any point leaves a venue
whose orders on record are exactly those whose effect is in its balances, a change costs its
own line whatever the history, and files of earlier versions are migrated."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common import atomic_file
from services.common.venue import (
    FundingPayment,
    OpenOrder,
    OrderKind,
    OrderResult,
    OrderStatus,
    Side,
)
from services.executor import journal_file
from services.executor.order_record import OrderRecord
from services.executor.paper_driver import PaperDriver
from services.executor.paper_state import PaperVenueState, StateFile
from tests.kit.executor_fakes import START, FakeFeed, paper_driver

D = Decimal


def short(cid: str, size: str) -> OpenOrder:
    return OpenOrder(cid, 0, "SOL-PERP", Side.SHORT, D(size))


def lines_in(data: bytes) -> int:
    """Whole lines after the header."""
    return data.count(b"\n") - 1


async def run_scenario(driver: PaperDriver, feed: FakeFeed) -> None:
    """Every kind of change: orders filled, refused and failed, funding, a close that settles."""
    await driver.deposit("dep", 0, D(1000))
    await driver.open_position(short("open", "2"))
    await driver.swap("spot", Side.LONG, D(1))
    feed.set_rates("SOL-PERP", START, [D("0.0001"), D("0.0002"), D("-0.0001")])
    feed.advance_hours(3.5)
    await driver.account_state(0)  # settles three funding hours: a change with no order
    driver.fail_next(1)
    await driver.deposit("failed", 0, D(10))
    await driver.deposit("too-big", 0, D(10**9))  # refused: on record, nothing moved
    await driver.close_position("close", 0, "SOL-PERP", settle_pnl=True)
    await driver.withdraw("out", 0, D(10))
    await driver.open_position(short("again", "1"))


@dataclass
class Recording:
    initial: int  # size of the file the first start writes (atomically)
    data: bytes  # the file at the end
    states: dict[int, PaperVenueState]  # whole lines written -> the venue they leave


def record_scenario() -> Recording:
    """The driver's state after each change, keyed by the lines on disk at that moment."""

    async def run() -> Recording:
        path = Path(tempfile.mkdtemp()) / "paper_venue.json"
        feed = FakeFeed()
        driver = paper_driver(feed, path)
        await driver.start()
        initial = path.stat().st_size
        states = {lines_in(path.read_bytes()): copy.deepcopy(driver._state)}
        original_append = StateFile.append

        def append_and_remember(self: StateFile, record, state):  # type: ignore[no-untyped-def]
            written = original_append(self, record, state)
            states[lines_in(path.read_bytes())] = copy.deepcopy(state)
            return written

        StateFile.append = append_and_remember  # type: ignore[method-assign]
        try:
            await run_scenario(driver, feed)
        finally:
            StateFile.append = original_append  # type: ignore[method-assign]
        return Recording(initial, path.read_bytes(), states)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def recording() -> Recording:
    return record_scenario()


def loaded_after_crash(data: bytes, cut: int) -> PaperVenueState | None:
    """The venue a restart reads when the process died with `cut` bytes of the file on disk."""
    path = Path(tempfile.mkdtemp()) / "paper_venue.json"
    path.write_bytes(data[:cut])
    return StateFile(path).load()


def check_consistent(recording: Recording, cut: int) -> None:
    loaded = loaded_after_crash(recording.data, cut)
    whole_lines = lines_in(recording.data[:cut])
    assert loaded == recording.states[whole_lines], f"crash after byte {cut}"


def test_the_scenario_writes_one_line_per_change(recording: Recording) -> None:
    counts = sorted(recording.states)
    assert counts == list(range(counts[0], counts[-1] + 1))
    assert counts[-1] - counts[0] == 9  # the scenario's nine changes


def test_a_crash_between_any_two_writes_or_inside_one_leaves_a_consistent_venue(
    recording: Recording,
) -> None:
    data = recording.data
    boundaries = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    starts = [b for b in boundaries if b >= recording.initial]
    for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
        for cut in {start, start + 1, (start + end) // 2, end - 1}:
            if recording.initial <= cut <= len(data):
                check_consistent(recording, cut)


@settings(max_examples=150, deadline=None)
@given(fraction=st.floats(min_value=0, max_value=1))
def test_property_any_crash_point_leaves_orders_on_record_iff_their_effect_is_applied(
    recording: Recording, fraction: float
) -> None:
    cut = recording.initial + round(fraction * (len(recording.data) - recording.initial))
    check_consistent(recording, cut)


async def test_a_restart_after_a_torn_line_trades_on_and_answers_old_ids(
    recording: Recording, tmp_path: Path
) -> None:
    data = recording.data
    last_line_start = data.rfind(b"\n", 0, len(data) - 1) + 1
    path = tmp_path / "paper_venue.json"
    path.write_bytes(data[: last_line_start + 40])  # died while writing the last change
    feed = FakeFeed()
    feed.advance_hours(3.5)
    driver = paper_driver(feed, path)
    await driver.start()
    assert await driver.get_order("again") is None  # its line was torn: never happened
    assert (await driver.deposit("dep", 0, D(1000))).replayed
    assert (await driver.deposit("after", 0, D(5))).status is OrderStatus.FILLED
    reloaded = StateFile(path).load()
    assert reloaded == driver._state and "after" in reloaded.orders


def many_orders_state(orders: int, payments: int) -> PaperVenueState:
    state = PaperVenueState(D(10_000), D(1))
    account = state.account(0)
    account.last_funding_settled = START
    for number in range(orders):
        cid = f"order-{number}"
        state.orders[cid] = OrderRecord(OrderResult(
            cid, OrderKind.DEPOSIT, OrderStatus.FILLED, "USDC", requested_size=D(1),
            filled_size=D(1), executed_at=datetime(2026, 3, 9, tzinfo=UTC)))
    for hour in range(payments):
        period = START - timedelta(hours=hour + 1)
        pid = f"0:SOL-PERP:{int(period.timestamp())}"
        account.funding_payments[pid] = FundingPayment(
            pid, "SOL-PERP", period, D("0.0001"), Side.SHORT, D(2), D(85), D("0.017"))
    return state


async def test_with_2000_orders_and_their_funding_a_change_writes_under_2_kb(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paper_venue.json"
    StateFile(path).save(many_orders_state(2000, 1000))
    feed = FakeFeed()
    driver = paper_driver(feed, path)
    await driver.start()
    written = []
    for change in (
        lambda: driver.deposit("next", 0, D(1000)),
        lambda: driver.open_position(short("short", "2")),
        lambda: driver.close_position("close", 0, "SOL-PERP", settle_pnl=True),
    ):
        before = path.stat().st_size
        await change()
        written.append(path.stat().st_size - before)
    await driver.open_position(short("held", "1"))
    feed.set_rates("SOL-PERP", START, [D("0.0001")])
    feed.advance_hours(1.5)
    before = path.stat().st_size
    await driver.account_state(0)  # one funding payment settled
    written.append(path.stat().st_size - before)
    assert all(0 < size < 2048 for size in written), written


async def test_superseded_lines_are_compacted_into_a_file_that_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_file, "COMPACT_MIN_LINES", 5)
    path = tmp_path / "paper_venue.json"
    feed = FakeFeed()
    driver = paper_driver(feed, path)
    await driver.start()
    await driver.deposit("dep", 0, D(100))
    sizes = []
    for _ in range(12):  # funding-only changes that pay nothing: superseded by the next
        feed.advance_hours(1)
        await driver.account_state(0)
        sizes.append(lines_in(path.read_bytes()))
    assert min(sizes[3:]) < max(sizes), sizes  # compacted at least once
    assert StateFile(path).load() == driver._state


async def test_a_compaction_that_fails_keeps_the_change_and_the_file_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_file, "COMPACT_MIN_LINES", 2)
    path = tmp_path / "paper_venue.json"
    feed = FakeFeed()
    driver = paper_driver(feed, path)
    await driver.start()

    def crash_before_rename(*_: object) -> None:
        raise OSError("crashed before the rename")

    monkeypatch.setattr(atomic_file.os, "replace", crash_before_rename)
    for number in range(6):
        feed.advance_hours(1)
        await driver.account_state(0)
        await driver.deposit(f"d{number}", 0, D(1))
    monkeypatch.undo()
    assert StateFile(path).load() == driver._state
    assert await asyncio.to_thread(os.listdir, tmp_path) == [path.name]  # no temp file left


def legacy_document() -> dict[str, object]:
    """A state file as versions before the journal wrote it: one JSON document."""
    deposit = {"client_order_id": "old", "kind": "deposit", "status": "filled", "market": "USDC",
               "side": None, "tx_signature": "paper:old", "error_code": "", "error_message": "",
               "executed_at": "2026-01-10T00:00:00+00:00", "requested_size": "100",
               "filled_size": "100", "fill_price": "1", "oracle_price": None,
               "slippage": None, "fee": "0", "notional": "100"}
    return {
        "version": 1,
        "wallet": {"usdc": "9900", "sol": "1"},
        "accounts": {"0": {
            "quote_balance": "100", "last_funding_settled": "2026-01-10T00:00:00+00:00",
            "unsettled_pnl": {}, "positions": [],
            "funding_payments": [{
                "payment_id": "0:SOL-PERP:1", "market": "SOL-PERP",
                "period_start": "2026-01-09T23:00:00+00:00", "rate_1h": "0.0001",
                "side": "short", "size": "1", "oracle_price": "85", "amount": "0.0085"}],
        }},
        "orders": {"old": {"result": deposit, "settlement": None}},
    }


async def test_a_state_file_of_an_earlier_version_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "paper_venue.json"
    path.write_text(json.dumps(legacy_document(), indent=1, sort_keys=True))
    driver = paper_driver(FakeFeed(), path)
    await driver.start()
    again = await driver.deposit("old", 0, D(100))
    assert again.replayed and again.tx_signature == "paper:old"
    state = await driver.account_state(0)
    assert (state.wallet_usdc, state.quote_balance) == (9900, 100)
    assert [p.payment_id for p in state.funding_payments] == ["0:SOL-PERP:1"]
    assert path.read_text().startswith('{"format": "dne-journal"')
    assert StateFile(path).load() == driver._state
