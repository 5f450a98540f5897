"""Percentiles, ratios to a floor, and targets: the arithmetic of every bench row."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with `fraction` of the samples at or below."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Target:
    """An upper bound on one statistic of a row, e.g. p99 <= 5 ms."""

    stat: str      # "p50", "p99", or "value" for rows that carry one number
    limit: float

    def met(self, row: Row) -> bool:
        return row.stat(self.stat) <= self.limit

    def text(self, unit: str) -> str:
        return f"{self.stat} <= {self.limit:g} {unit}"


@dataclass
class Row:
    """One measured path: latency samples in ms (or one value), its floor, its target."""

    name: str
    samples: list[float] = field(default_factory=list)
    value: float | None = None          # a single number: CPU %, MB, cost %
    unit: str = "ms"
    floor: Row | None = None
    targets: tuple[Target, ...] = ()
    errors: int = 0
    note: str = ""

    def stat(self, name: str) -> float:
        if name == "value":
            if self.value is None:
                raise ValueError(f"{self.name} has no single value")
            return self.value
        return percentile(self.samples, {"p50": 0.50, "p99": 0.99}[name])

    def ratio(self, name: str) -> float | None:
        """This row's statistic over its floor's, e.g. 3.2 (x the floor)."""
        if self.floor is None or not self.samples or not self.floor.samples:
            return None
        below = self.floor.stat(name)
        return self.stat(name) / below if below > 0 else None

    @property
    def passed(self) -> bool | None:
        """None when there is no target; a row with errors fails whatever its latency."""
        if not self.targets:
            return None
        return self.errors == 0 and all(target.met(self) for target in self.targets)

    @property
    def target_text(self) -> str:
        return ", ".join(target.text(self.unit) for target in self.targets)

    def as_json(self) -> dict[str, object]:
        summary: dict[str, object] = {"name": self.name, "unit": self.unit,
                                      "errors": self.errors, "note": self.note}
        if self.samples:
            summary |= {"n": len(self.samples), "p50": self.stat("p50"),
                        "p99": self.stat("p99")}
        if self.value is not None:
            summary["value"] = self.value
        if self.floor is not None:
            summary |= {"floor": self.floor.name, "ratio_p50": self.ratio("p50"),
                        "ratio_p99": self.ratio("p99")}
        if self.targets:
            summary |= {"target": self.target_text, "passed": self.passed}
        return summary


@dataclass
class Overhead(Row):
    """What `whole` adds on top of `part` (e.g. the gateway over the direct gRPC call it
    makes): p50 and p99 are differences of percentiles, not percentiles of differences, since
    the two were sampled apart."""

    whole: Row | None = None
    part: Row | None = None

    def stat(self, name: str) -> float:
        assert self.whole is not None and self.part is not None
        return self.whole.stat(name) - self.part.stat(name)

    def as_json(self) -> dict[str, object]:
        summary = super().as_json()
        summary |= {"p50": self.stat("p50"), "p99": self.stat("p99")}
        return summary
