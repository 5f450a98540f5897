"""One schedule's world: clock, feed, the three processes, the links between them, and how
each op is performed (with pauses, cancellations and crashes) in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dne.engine.v1 import engine_pb2
from services.common.clock import ManualClock
from sim import schedule as S
from sim.events import Seen
from sim.faults import FaultPlan
from sim.feed import SimFeed
from sim.processes import (
    EngineLife,
    EngineProcess,
    ExecutorProcess,
    VaultFile,
    VaultProcess,
    engine_settings,
    executor_settings,
)
from sim.transport import CURRENT_OP, Breakpoint, FakeContext, Network
from sim.venue import VenueWatch
from tests.kit.engine_fakes import START

SUB_ACCOUNT = 0
# A resume still retrying after this many attempts (a service that stays away) is cancelled.
RESUME_ATTEMPTS = 12
HEAL_TICKS = (0, 2000)  # seconds the clock moves before each healing tick (past the cooldown)


class Setting:
    """What every schedule of a worker shares: the files' directory, the vault's database
    engine, and the settings read once from the environment."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.vault_file = VaultFile(directory)
        self.engine_settings = engine_settings(directory)
        self.executor_settings = executor_settings(directory)


class World:
    def __init__(self, setting: Setting, plan: FaultPlan, trace: list[str]) -> None:
        self.trace = trace
        self.plan = plan
        self.clock = ManualClock(START)
        self.feed = SimFeed(self.clock)
        self.events: list[Seen] = []
        self._moments = itertools.count(1)
        self.venue = VenueWatch(self.moment, self.clock.now, S.HEDGE, SUB_ACCOUNT, trace)
        self.network = Network(plan, trace, self.clock.advance, self.venue.observe)
        self.vault = VaultProcess(setting.vault_file.engine, self.clock)
        self.executor = ExecutorProcess(setting.executor_settings, self.feed)
        self.engine = EngineProcess(
            settings=setting.engine_settings, network=self.network, feed=self.feed,
            executor=self.executor, vault=self.vault, clock=self.clock, events=self.events,
            moment=self.moment, trace=trace)
        self.commands: dict[str, S.Command] = {}
        self.stuck: list[str] = []          # ops that never finished with their engine alive
        self._lives: dict[asyncio.Task[Any], EngineLife | None] = {}
        self._labels = itertools.count(1)

    def moment(self) -> int:
        return next(self._moments)

    async def start(self) -> None:
        await self.vault.restart()
        await self.executor.restart()
        self.engine.boot()

    # --- performing ops ----------------------------------------------------------------------

    async def perform(self, op: S.Op) -> None:
        if isinstance(op, S.Interleave):
            await self._interleave(op)
        elif isinstance(op, S.CancelMidCall):
            await self._cancel_mid_call(op)
        else:
            task = self._spawn(op)
            await self.drive(task)
            self._note_unfinished(task, op)
        await self.settle()

    async def revive_engine(self) -> None:
        """The supervisor restarts a crashed engine, which resumes by itself when its state
        says it ran (issue 10, through the faults like any call); one that does not resume
        (stopped before the crash, or its resume still retrying) the operator starts in paper
        mode."""
        if self.engine.alive:
            return
        self.engine.boot()
        self.trace.append("engine restarted")
        engine = self.engine.engine
        assert engine is not None
        if engine.resume_if_started():
            resumed = asyncio.create_task(engine.wait_resumed())
            await self.drive(resumed, until=lambda: engine.resume_attempts > RESUME_ATTEMPTS)
            if not resumed.done():
                await self.drive(asyncio.create_task(engine.cancel_resume()))
            self.trace.append(f"  resume: {engine.status().blocked_reason or 'running'}")
            await self.settle()
            if engine.running:
                return
        start = S.Command("StartEngine", f"restart-{self.engine.crashes}", (("mode", "paper"),))
        task = self._spawn(start)
        await self.drive(task)
        await self.settle()

    async def _interleave(self, op: S.Interleave) -> None:
        first = self._spawn(op.first, pause=(op.at_call, op.after_delivery))
        point = self.network.breakpoint
        assert point is not None
        await self.drive(first, until=lambda: point.hit)
        second = self._spawn(op.second)
        await self.drive(second)  # until done, or blocked on what the first holds
        point.release.set()
        self.network.breakpoint = None
        await self.drive(first, second)
        self._note_unfinished(first, op.first)
        self._note_unfinished(second, op.second)

    async def _cancel_mid_call(self, op: S.CancelMidCall) -> None:
        task = self._spawn(op.command, pause=(op.at_call, op.after_delivery))
        point = self.network.breakpoint
        assert point is not None
        await self.drive(task, until=lambda: point.hit)
        if point.hit and not task.done():
            task.cancel()
            self.trace.append(f"  {op.command.request_id}: handler cancelled (deadline)")
        point.release.set()
        self.network.breakpoint = None
        await self.drive(task)
        if not task.cancelled():
            self._note_unfinished(task, op.command)

    def _spawn(self, op: S.Simple, pause: tuple[int, bool] | None = None) -> asyncio.Task[Any]:
        label = f"op{next(self._labels)}"
        if pause is not None:
            self.network.breakpoint = Breakpoint(label, pause[0], pause[1])
        token = CURRENT_OP.set(label)
        try:
            task = asyncio.create_task(self._simple(op))
        finally:
            CURRENT_OP.reset(token)
        self._lives[task] = self.engine.life
        return task

    async def drive(self, *tasks: asyncio.Task[Any],
                    until: Callable[[], bool] = lambda: False) -> None:
        """Runs the loop until the tasks are done, `until` holds, or nothing can move: every
        other await is immediate (inline I/O), so an empty ready queue means blocked."""
        loop = asyncio.get_running_loop()
        while not until() and not all(task.done() for task in tasks):
            await asyncio.sleep(0)
            if not loop._ready:  # type: ignore[attr-defined]
                return

    async def settle(self) -> None:
        """Lets work the engine keeps doing after an op's answer (shielded commands) finish."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)
        while loop._ready:  # type: ignore[attr-defined]  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0)

    def _note_unfinished(self, task: asyncio.Task[Any], op: S.Simple) -> None:
        if task.done():
            return
        life = self._lives.get(task)
        if task in self.network.frozen or (life is not None and not life.alive):
            self.trace.append(f"  {op.describe()}: no answer (the engine crashed)")
            return
        self.trace.append(f"  {op.describe()}: blocked, never finished")
        self.stuck.append(op.describe())

    async def _simple(self, op: S.Simple) -> None:
        if isinstance(op, S.Command):
            await self._command(op)
        elif isinstance(op, S.Tick):
            if self.engine.alive and self.engine.engine is not None:
                await self.engine.engine.tick()
        elif isinstance(op, S.MovePrice):
            self.feed.move_price(op.market, op.percent)
        elif isinstance(op, S.AdvanceClock):
            self.clock.advance(op.seconds)
        elif isinstance(op, S.SetFunding):
            self.feed.set_rate(op.market, op.rate_1h)
        elif isinstance(op, S.Crash):
            await self._crash(op)
        elif (isinstance(op, S.VenueFails) and self.executor.up
              and self.executor.driver is not None):
            self.executor.driver.fail_next(op.count)
            self.plan.count("venue_reject")

    async def _crash(self, op: S.Crash) -> None:
        self.plan.count(f"crash_{op.process}")
        if op.process == "engine":
            self.engine.kill()
        elif op.process == "executor" and self.executor.up:
            await self.executor.crash(op.downtime_calls)
        elif op.process == "vault" and self.vault.up:
            await self.vault.crash(op.downtime_calls)

    async def _command(self, op: S.Command) -> None:
        if op.method not in ("StartEngine", "StopEngine"):
            self.commands.setdefault(op.request_id, op)
        servicer = self.engine.servicer
        if not self.engine.alive or servicer is None:
            self.trace.append(f"  {op.request_id}: UNAVAILABLE (the engine is down)")
            return
        request = getattr(engine_pb2, f"{op.method}Request")(
            request_id=op.request_id, **dict(op.fields))
        reply = await getattr(servicer, op.method)(request, FakeContext())
        quote = reply.result.confirmation
        if dict(op.fields).get("confirmed") and quote.confirmation_id:
            # The user confirms the engine's quote: the same trade again, with the quote's id.
            self.trace.append(f"  {op.request_id}: confirms quote at {quote.price or '-'}")
            request.confirmation_id = quote.confirmation_id
            reply = await getattr(servicer, op.method)(request, FakeContext())
        result = reply.result
        outcome = "ok" if result.ok else result.error.code or "failed"
        self.trace.append(f"  {op.request_id} -> {outcome}: {result.message}")

    # --- healing -----------------------------------------------------------------------------

    async def heal(self) -> None:
        """Every link healthy, every process up, the engine running, a few ticks."""
        self.plan.enabled = False
        self.network.breakpoint = None
        self.trace.append("heal")
        for process in (self.vault, self.executor):
            if not process.up:
                await process.restart()
        await self.revive_engine()
        engine = self.engine.engine
        assert engine is not None
        if not engine.running:
            await self._run(S.Command("StartEngine", "heal-start", (("mode", "paper"),)))
        if engine.sync_error is not None:
            await self._run(S.Command("ResetVault", "heal-reset"))
        for seconds in HEAL_TICKS:
            self.clock.advance(seconds)
            await self._run(S.Tick())

    async def _run(self, op: S.Simple) -> None:
        task = self._spawn(op)
        await self.drive(task)
        self._note_unfinished(task, op)
        await self.settle()

    async def teardown(self) -> None:
        """Stops the engine if it can stop, then cancels whatever is left; an op blocked
        forever (a hang, already reported) must not hang the campaign with it."""
        self.network.tearing_down = True
        engine = self.engine.engine
        if engine is not None and self.engine.alive:
            await self.drive(asyncio.create_task(_quietly(engine.shutdown())))
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await self.drive(*tasks)
        await self.vault.crash(0)  # closes the database's connections


async def _quietly(work: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):  # the schedule is over; only the verdict matters
        await work
