"""Many seeds over worker processes, and the report: faults by kind, violations by kind with
a seed each, then one summary line and the seeds that broke an invariant."""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sim.runner import Outcome, Workspace, run_seed

_worker: dict[str, Workspace] = {}


@dataclass
class Report:
    schedules: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    by_seed: dict[int, list[str]] = field(default_factory=dict)
    by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    details: dict[str, str] = field(default_factory=dict)  # kind -> one example
    violations: int = 0
    seconds: float = 0.0

    def add(self, seed: int, kinds_and_details: Sequence[tuple[str, str]],
            faults: Counter[str]) -> None:
        self.schedules += 1
        self.faults.update(faults)
        self.violations += len(kinds_and_details)
        kinds = sorted({kind for kind, _ in kinds_and_details})
        if kinds:
            self.by_seed[seed] = kinds
        for kind in kinds:
            self.by_kind[kind].append(seed)
        for kind, detail in kinds_and_details:
            self.details.setdefault(kind, f"seed {seed}: {detail}")

    def lines(self) -> list[str]:
        rate = self.schedules / self.seconds if self.seconds else 0.0
        lines = [f"time: {self.seconds:.1f} s ({rate:.1f} schedules/s)",
                 "faults injected: " + (", ".join(
                     f"{kind} {count}" for kind, count in sorted(self.faults.items())) or "none")]
        for kind, seeds in sorted(self.by_kind.items()):
            lines.append(f"violations {kind}: {len(seeds)} schedules, e.g. {self.details[kind]}")
        lines.append(f"sim: {self.schedules} schedules, {self.violations} violations")
        lines += [f"seed {seed}: {' '.join(kinds)}" for seed, kinds in sorted(self.by_seed.items())]
        return lines


def quiet() -> None:
    logging.disable(logging.CRITICAL)  # the services log every trade; the trace says enough


def scratch_directory() -> Path:
    """tmpfs when there is one: the vault's SQLite and the venue's file sync on every write."""
    shm = Path("/dev/shm")  # noqa: S108 - a private directory is made inside it
    root = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="dne-sim-", dir=root))


def _init_worker() -> None:
    quiet()
    _prepare()


def _prepare() -> None:
    workspace = Workspace(scratch_directory())
    _worker["workspace"] = workspace
    atexit.register(workspace.remove)  # tmpfs is memory


def _one(seed: int) -> tuple[int, list[tuple[str, str]], Counter[str]]:
    outcome = run_seed(seed, _worker["workspace"])
    return seed, [(v.kind, v.detail) for v in outcome.violations], outcome.faults


def run_campaign(seeds: Iterable[int], workers: int) -> Report:
    report = Report()
    started = time.perf_counter()
    seeds = list(seeds)
    if workers <= 1:
        _prepare()
        results: Iterable[tuple[int, list[tuple[str, str]], Counter[str]]] = map(_one, seeds)
        for seed, violations, faults in results:
            report.add(seed, violations, faults)
    else:
        # Spawned, not forked: a parent that ran gRPC (pytest) must not be copied mid-flight.
        # The children inherit PYTHONHASHSEED, so a seed iterates sets as its replay does.
        os.environ.setdefault("PYTHONHASHSEED", "0")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            for seed, violations, faults in pool.map(_one, seeds, chunksize=20):
                report.add(seed, violations, faults)
    report.seconds = time.perf_counter() - started
    return report


def replay(seed: int) -> tuple[Outcome, Report]:
    """One seed, verbosely: its schedule, every link call with its fault, the verdict."""
    workspace = Workspace(scratch_directory())
    started = time.perf_counter()
    try:
        outcome = run_seed(seed, workspace)
    finally:
        workspace.remove()
    report = Report()
    report.add(seed, [(v.kind, v.detail) for v in outcome.violations], outcome.faults)
    report.seconds = time.perf_counter() - started
    return outcome, report
