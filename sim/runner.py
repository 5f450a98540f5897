"""Runs one schedule in a fresh asyncio loop and answers its violations, faults and trace."""

from __future__ import annotations

import asyncio
import shutil
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sim import schedule as S
from sim.faults import FaultPlan
from sim.inline_io import inline_io
from sim.invariants import Checker, Violation
from sim.processes import restore
from sim.seeded_ids import seeded_uuid4
from sim.vault_reader import VaultReader
from sim.world import Setting, World

# A test's way to break the set-up on purpose (a flipping rebalancer, a duplicating link).
Tamper = Callable[[World], None]


@dataclass
class Outcome:
    seed: int
    violations: list[Violation]
    faults: Counter[str] = field(default_factory=Counter)
    trace: list[str] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        return sorted({violation.kind for violation in self.violations})


class Workspace:
    """A worker's directory: the files of the schedule running now, and the funded accounts
    every schedule starts from (a deposit made once, saved: the vault and the venue files)."""

    def __init__(self, directory: Path) -> None:
        self.root = directory
        self.setting = Setting(directory / "run")
        self._snapshots = directory / "funded"
        with seeded_uuid4(0), inline_io():
            for amount in S.FUNDINGS:
                asyncio.run(self._fund(amount))

    async def _fund(self, amount: int) -> None:
        run = self.setting.directory
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        await self.setting.vault_file.create_schema()
        world = World(self.setting, FaultPlan(0, 0.0), [])
        await world.start()
        for op in (S.Command("StartEngine", "fund-start", (("mode", "paper"),)),
                   S.Command("Deposit", "fund-deposit", (("amount", str(amount)),)),
                   S.Command("StopEngine", "fund-stop")):
            await world.perform(op)
        await world.teardown()
        await self.setting.vault_file.close()
        shutil.copytree(run, self._snapshots / str(amount), dirs_exist_ok=True)

    def start_from(self, funded_usdc: int) -> None:
        restore(self._snapshots / str(funded_usdc), self.setting.directory)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_seed(seed: int, workspace: Workspace, tamper: Tamper | None = None,
             schedule: S.Schedule | None = None) -> Outcome:
    """One schedule, start to verdict; a failure of the harness itself is a violation too."""
    schedule = schedule or S.draw(seed)
    trace = schedule.describe()
    plan = FaultPlan(schedule.seed, schedule.intensity)
    try:
        workspace.start_from(schedule.funded_usdc)
        with seeded_uuid4(seed), inline_io():
            violations = asyncio.run(_run(schedule, workspace.setting, plan, trace, tamper))
    except Exception as error:
        trace.append(traceback.format_exc())
        violations = [Violation("harness_error", f"{type(error).__name__}: {error}")]
    return Outcome(seed, violations, plan.counts, trace)


async def _run(schedule: S.Schedule, setting: Setting, plan: FaultPlan, trace: list[str],
               tamper: Tamper | None) -> list[Violation]:
    world = World(setting, plan, trace)
    if tamper is not None:
        tamper(world)
    await world.start()
    reader = VaultReader(setting.vault_file.path)
    checker = Checker(world, reader, setting.engine_settings)
    try:
        plan.enabled = False
        for op in schedule.prologue:
            trace.append(f"prologue: {op.describe()}")
            await world.perform(op)
        plan.enabled = True
        for index, op in enumerate(schedule.ops, 1):
            await world.revive_engine()
            trace.append(f"step {index}: {op.describe()}")
            await world.perform(op)
            checker.after_step()
        await world.heal()
        checker.at_end()
    finally:
        await world.teardown()
        reader.close()
    violations = list(checker.found.values())
    trace += [f"VIOLATION {violation}" for violation in violations]
    return violations
