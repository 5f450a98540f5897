"""The order journal's rules, venue-neutral: answered ids are final, the same id in flight
joins its call, and only a one-at-a-time venue refuses another id meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from services.common.errors import ErrorCode
from services.common.venue import OrderIntent, OrderKind, OrderResult, OrderStatus
from services.executor.order_journal import Admission, OrderJournal, admit
from services.executor.order_record import OrderRecord


def intent(cid: str) -> OrderIntent:
    return OrderIntent(cid, OrderKind.DEPOSIT, "USDC")


def result(cid: str, status: OrderStatus) -> OrderResult:
    return OrderResult(cid, OrderKind.DEPOSIT, status, "USDC")


@pytest.mark.parametrize(("stored", "same", "other", "one", "expected"), [
    (False, True, False, True, Admission.JOIN),
    (True, True, False, False, Admission.JOIN),
    (True, False, True, True, Admission.REPLAY),
    (False, False, True, True, Admission.BUSY),
    (False, False, True, False, Admission.EXECUTE),
    (False, False, False, True, Admission.EXECUTE),
])
def test_admission_follows_the_id_first_then_the_venue(
    stored: bool, same: bool, other: bool, one: bool, expected: Admission
) -> None:
    assert admit(stored=stored, running_same=same, running_other=other,
                 one_at_a_time=one) is expected


async def test_a_failed_id_is_final_and_replayed_without_executing() -> None:
    written: list[str] = []
    journal: OrderJournal[OrderRecord] = OrderJournal(
        persist=lambda r: written.append(r.client_order_id), new_record=OrderRecord)
    calls = 0

    async def execute() -> OrderRecord:
        nonlocal calls
        calls += 1
        record = OrderRecord(result("a", OrderStatus.FAILED))
        journal.put(record)
        return record

    first = await journal.submit(intent("a"), execute)
    again = await journal.submit(intent("a"), execute)
    assert (first.result.status, again.result.status) == (OrderStatus.FAILED,) * 2
    assert again.result.replayed and calls == 1 and written == ["a"]


async def test_a_pending_record_is_looked_up_not_sent_again() -> None:
    async def look_up(record: OrderRecord) -> OrderRecord:
        return OrderRecord(result(record.client_order_id, OrderStatus.FILLED))

    journal: OrderJournal[OrderRecord] = OrderJournal(new_record=OrderRecord, look_up=look_up)
    journal.load({"p": OrderRecord(result("p", OrderStatus.PENDING))})

    async def never() -> OrderRecord:
        raise AssertionError("an answered id was sent again")

    answer = await journal.submit(intent("p"), never)
    assert answer.result.status is OrderStatus.FILLED and answer.result.replayed


async def test_the_same_id_in_flight_joins_and_another_waits_or_is_refused() -> None:
    release = asyncio.Event()

    def journal_with(one_at_a_time: bool) -> OrderJournal[OrderRecord]:
        return OrderJournal(new_record=OrderRecord, one_at_a_time=one_at_a_time,
                            detach=one_at_a_time)

    for one_at_a_time in (False, True):
        journal = journal_with(one_at_a_time)
        release.clear()

        async def slow(cid: str, journal: OrderJournal[OrderRecord] = journal) -> OrderRecord:
            await release.wait()
            record = OrderRecord(result(cid, OrderStatus.FILLED))
            journal.put(record)
            return record

        first = asyncio.create_task(journal.submit(intent("x"), lambda: slow("x")))
        await asyncio.sleep(0)
        joined = asyncio.create_task(journal.submit(intent("x"), lambda: slow("x")))
        other = asyncio.create_task(journal.submit(intent("y"), lambda: slow("y")))
        await asyncio.sleep(0)
        release.set()
        assert (await first).result.status is OrderStatus.FILLED
        assert (await joined).result.replayed
        answer = (await other).result
        if one_at_a_time:
            assert (answer.status, answer.error_code) == (OrderStatus.REJECTED,
                                                          ErrorCode.ORDER_PENDING)
        else:
            assert answer.status is OrderStatus.FILLED and not answer.replayed


async def test_a_record_that_cannot_be_written_is_not_kept() -> None:
    def broken(record: OrderRecord) -> None:
        raise OSError("disk full")

    journal: OrderJournal[OrderRecord] = OrderJournal(persist=broken, new_record=OrderRecord)
    with pytest.raises(OSError):
        journal.put(OrderRecord(result("z", OrderStatus.FILLED)))
    assert journal.get("z") is None
