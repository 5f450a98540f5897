"""The order journal: client order id -> the record of that order, and the rules that make an id
safe to send twice, once for every driver (see services.executor.driver).

- **Every answered id is final**, FAILED included: the same id again answers the stored record
  with replayed=True and never trades (the engine has recorded the answer; a new attempt takes a
  new id). A PENDING or UNKNOWN one (sent, outcome not known yet) is looked up first through
  the driver's `look_up`, never sent again.
- **One call per id in flight**: the same id asked while its first call is at work joins that
  call and answers its outcome, or PENDING when it takes longer than `answer_within` (it may
  still trade, so never a refusal). With `one_at_a_time` (the live venue) another id is refused
  with ORDER_PENDING meanwhile; without it the driver queues them itself.
- **Outcomes are put here**, and `persist` writes them before they are answered: a record is in
  memory only once it is on disk.

Drivers prepare, submit and read; `submit` runs their `execute` under these rules. With
`detach` (the live venue) it runs as its own task, so a caller that goes away never cuts a
transaction between its send and its outcome; otherwise it runs in the caller's task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from enum import Enum
from typing import Generic, TypeVar

from services.common.errors import ErrorCode
from services.common.venue import OrderIntent, OrderResult, OrderStatus
from services.executor.order_record import NOT_FINAL, OrderRecord

R = TypeVar("R", bound=OrderRecord)


class Admission(Enum):
    JOIN = "join"        # the same id is at work: wait for its outcome
    REPLAY = "replay"    # answered before: the stored record (looked up first if not final)
    BUSY = "busy"        # another id is in flight and the venue takes one at a time
    EXECUTE = "execute"  # a new id: run it


def admit(*, stored: bool, running_same: bool, running_other: bool,
          one_at_a_time: bool) -> Admission:
    """What to do with an order call, from what the journal knows of its id."""
    if running_same:
        return Admission.JOIN
    if stored:
        return Admission.REPLAY
    if running_other and one_at_a_time:
        return Admission.BUSY
    return Admission.EXECUTE


class OrderJournal(Generic[R]):
    def __init__(
        self,
        *,
        persist: Callable[[R], None] | None = None,
        new_record: Callable[[OrderResult], R],
        look_up: Callable[[R], Awaitable[R]] | None = None,
        one_at_a_time: bool = False,
        detach: bool = False,
        answer_within: float | None = None,
        now: Callable[[], datetime | None] = lambda: None,
    ) -> None:
        self._persist = persist
        self._new_record = new_record
        self._look_up = look_up
        self._one_at_a_time = one_at_a_time
        self._detach = detach
        self._answer_within = answer_within
        self._now = now
        self._records: dict[str, R] = {}
        self._running: dict[str, asyncio.Future[R]] = {}

    # --- the records

    def load(self, records: dict[str, R]) -> None:
        """The records read back at start (the dict is kept, not copied)."""
        self._records = records

    def get(self, client_order_id: str) -> R | None:
        return self._records.get(client_order_id)

    def records(self) -> Iterable[R]:
        return self._records.values()

    def unsettled(self) -> list[R]:
        """Orders sent by an earlier run whose outcome is not known yet."""
        return [r for r in self._records.values() if r.result.status in NOT_FINAL]

    def put(self, record: R) -> None:
        """An outcome (or a send about to happen): on disk first, then answered. A close's
        settlement is its own record too, so its id is final as well."""
        entries = [record]
        if record.settlement is not None:
            entries.append(self._new_record(record.settlement))
        before = {r.client_order_id: self._records.get(r.client_order_id) for r in entries}
        for entry in entries:
            self._records[entry.client_order_id] = entry
        try:
            if self._persist is not None:
                self._persist(record)
        except BaseException:
            for cid, previous in before.items():
                if previous is None:
                    self._records.pop(cid, None)
                else:
                    self._records[cid] = previous
            raise

    async def settled(self, client_order_id: str) -> R | None:
        """The stored record; one not final is looked up first unless its call is at work."""
        record = self._records.get(client_order_id)
        if record is None or record.result.status not in NOT_FINAL \
                or client_order_id in self._running or self._look_up is None:
            return record
        return await self._look_up(record)

    # --- orders in flight

    def in_flight(self, client_order_id: str) -> bool:
        return client_order_id in self._running

    def follow(self, record: R, until_final: Callable[[R], Awaitable[R]]) -> None:
        """An order an earlier run left unresolved, followed until final: it counts as in
        flight meanwhile (the same id joins it; with one_at_a_time, another is refused)."""
        task = asyncio.get_running_loop().create_task(until_final(record))
        self._track(record.client_order_id, task)

    async def cancel_running(self) -> None:
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def submit(self, intent: OrderIntent,
                     execute: Callable[[], Awaitable[R]]) -> OrderRecord:
        cid = intent.client_order_id
        while True:
            running = self._running.get(cid)
            match admit(stored=cid in self._records, running_same=running is not None,
                        running_other=bool(self._running), one_at_a_time=self._one_at_a_time):
                case Admission.JOIN:
                    assert running is not None
                    try:
                        return (await self._answer(intent, running)).as_replayed()
                    except asyncio.CancelledError:
                        if not running.cancelled() or _cancelling():
                            raise
                        continue  # that call ended without an answer: decide afresh
                case Admission.REPLAY:
                    stored = await self.settled(cid)
                    assert stored is not None
                    return stored.as_replayed()
                case Admission.BUSY:
                    return self._busy(intent)
                case Admission.EXECUTE:
                    if self._detach:
                        task = asyncio.get_running_loop().create_task(execute())
                        self._track(cid, task)
                        return await self._answer(intent, task)
                    return await self._inline(cid, execute)

    def _track(self, cid: str, task: asyncio.Task[R]) -> None:
        self._running[cid] = task
        task.add_done_callback(lambda _: self._running.pop(cid, None))

    async def _inline(self, cid: str, execute: Callable[[], Awaitable[R]]) -> R:
        """Runs in the caller's task; a future lets the same id asked meanwhile join it."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._running[cid] = done
        try:
            record = await execute()
        except BaseException:
            done.cancel()
            raise
        finally:
            self._running.pop(cid, None)
        done.set_result(record)
        return record

    async def _answer(self, intent: OrderIntent, running: asyncio.Future[R]) -> R:
        """The call's outcome if it comes within `answer_within`, else PENDING."""
        try:
            return await asyncio.wait_for(asyncio.shield(running), self._answer_within)
        except TimeoutError:
            current = self._records.get(intent.client_order_id)
            if current is not None:
                return current
            return self._new_record(OrderResult(
                client_order_id=intent.client_order_id, kind=intent.kind,
                status=OrderStatus.PENDING, market=intent.market, side=intent.side,
                requested_size=intent.size, executed_at=self._now(),
                error_code=ErrorCode.ORDER_PENDING,
                error_message="the order is being prepared; ask again with the same id"))

    def _busy(self, intent: OrderIntent) -> R:
        busy = next(iter(self._running))
        record = self._records.get(busy)
        signature = record.result.tx_signature if record else ""
        return self._new_record(OrderResult.refused(
            intent, ErrorCode.ORDER_PENDING,
            f"order {busy} is awaiting the venue's confirmation"
            + (f" ({signature})" if signature else "") + "; one order at a time",
            at=self._now()))


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0

