"""What goes wrong on one link call, decided by the seed and the call's sequence number alone
(never by time or by which thread ran first), so a seed replays the same faults."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

DROP = "drop"                  # the request never arrives: UNAVAILABLE
LOSE_REPLY = "lose_reply"      # delivered, then UNAVAILABLE or DEADLINE_EXCEEDED
DELAY = "delay"                # virtual time passes and other tasks run first
DUPLICATE = "duplicate"        # delivered twice, one answer returned
CRASH_CALLEE = "crash_callee"  # the service dies before or after handling the call
CRASH_ENGINE = "crash_engine"  # the caller (the engine) dies at this call
KINDS = (DROP, LOSE_REPLY, DELAY, DUPLICATE, CRASH_CALLEE, CRASH_ENGINE)
WEIGHTS = (25, 20, 15, 15, 15, 10)
# Schedules differ in how rough their network is: some calm, most a little, some stormy.
INTENSITIES = (0.0, 0.03, 0.06, 0.12)


@dataclass(frozen=True)
class Fault:
    kind: str
    after_delivery: bool = False  # crashes: before or after the callee handled the call
    deadline: bool = False        # a lost reply: DEADLINE_EXCEEDED instead of UNAVAILABLE
    delay_seconds: float = 0.0
    yields: int = 0               # loop turns given to other tasks during a delay
    answer_second: bool = False   # a duplicate: which of the two answers the caller gets
    downtime_calls: int = 0       # a crash: calls refused before the service restarts

    def describe(self) -> str:
        if self.kind == DELAY:
            return f"delay {self.delay_seconds:g}s"
        if self.kind in (CRASH_CALLEE, CRASH_ENGINE):
            when = "after" if self.after_delivery else "before"
            down = f", down {self.downtime_calls} calls" if self.kind == CRASH_CALLEE else ""
            return f"{self.kind} {when} delivery{down}"
        if self.kind == LOSE_REPLY:
            return f"lose_reply ({'DEADLINE_EXCEEDED' if self.deadline else 'UNAVAILABLE'})"
        return self.kind


class FaultPlan:
    """One schedule's faults: call number n gets the fault that (seed, n) draws."""

    def __init__(self, seed: int, intensity: float, *, engine_crashes: bool = True) -> None:
        self.seed = seed
        self.intensity = intensity
        self.engine_crashes = engine_crashes
        self.enabled = True
        self.counts: Counter[str] = Counter()

    def decide(self, sequence: int) -> Fault | None:
        if not self.enabled or self.intensity <= 0:
            return None
        rng = random.Random(self.seed * 1_000_003 + sequence)  # noqa: S311
        if rng.random() >= self.intensity:
            return None
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == CRASH_ENGINE and not self.engine_crashes:
            kind = DROP
        return Fault(
            kind=kind,
            after_delivery=rng.random() < 0.5,
            deadline=rng.random() < 0.5,
            delay_seconds=rng.choice((0.5, 2.0, 6.0, 30.0)),
            yields=rng.randint(1, 5),
            answer_second=rng.random() < 0.5,
            downtime_calls=rng.randint(0, 6),
        )

    def count(self, kind: str) -> None:
        self.counts[kind] += 1
