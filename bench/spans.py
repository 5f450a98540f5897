"""A trade's time split into its hops (the engine's calls to the feed, executor and vault), from
the spans the services export to the OTLP receiver of tests/kit (start and end of each)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.kit.otlp_receiver import SpanStore

_SERVER, _CLIENT = 2, 3   # OTLP SpanKind


def covered_ns(intervals: list[tuple[int, int]]) -> int:
    """Nanoseconds inside at least one interval: calls made side by side count once."""
    covered, reach = 0, 0
    for start, end in sorted(intervals):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


@dataclass(frozen=True)
class Hops:
    totals_ms: list[float]          # each traced call's server span
    calls_ms: dict[str, float]      # mean ms per call spent in each outgoing call, by name
    waiting_ms: float               # mean ms per call with at least one outgoing call open

    @property
    def own_ms(self) -> float:
        """The engine's own time: its server span minus the time it waited on others."""
        return sum(self.totals_ms) / len(self.totals_ms) - self.waiting_ms


def hops(store: SpanStore, root_name: str) -> Hops | None:
    """The engine's server spans named `root_name` split by its outgoing calls (its client
    spans in the same trace, e.g. to the executor); None when no such span arrived."""
    roots = [s for s in store.spans if s.service == "dne-engine" and s.name == root_name
             and s.kind == _SERVER]
    if not roots:
        return None
    calls: dict[str, float] = {}
    waiting = 0
    for root in roots:
        inside = [span for span in store.spans
                  if span.trace_id == root.trace_id and span.service == "dne-engine"
                  and span.kind == _CLIENT and root.start_ns <= span.start_ns <= root.end_ns]
        for span in inside:
            calls[span.name] = calls.get(span.name, 0.0) + span.ms
        waiting += covered_ns([(span.start_ns, span.end_ns) for span in inside])
    return Hops([root.ms for root in roots],
                {name: total / len(roots) for name, total in calls.items()},
                waiting / len(roots) / 1e6)
