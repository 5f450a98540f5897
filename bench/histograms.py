"""Means of a Prometheus histogram's series, read from a service's /metrics before and after a
workload: the engine's own per-hop timing of a trade (dne_engine_trade_hop_seconds)."""

from __future__ import annotations

import re

import httpx

_SERIES = re.compile(r'^(?P<name>\w+)_(?P<part>sum|count)\{(?P<key>\w+)="(?P<value>[^"]*)"\} '
                     r"(?P<number>\S+)$", re.MULTILINE)

Totals = dict[str, tuple[float, float]]    # label value -> (sum, count)


async def read_totals(url: str, name: str) -> Totals:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(url)).text
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for match in _SERIES.finditer(text):
        if match["name"] == name:
            target = sums if match["part"] == "sum" else counts
            target[match["value"]] = float(match["number"])
    return {label: (sums.get(label, 0.0), counts.get(label, 0.0)) for label in counts}


def mean_ms(before: Totals, after: Totals) -> dict[str, float]:
    """Each series' mean in ms over what was observed between the two readings."""
    means: dict[str, float] = {}
    for label, (total, count) in after.items():
        old_total, old_count = before.get(label, (0.0, 0.0))
        if count > old_count:
            means[label] = (total - old_total) / (count - old_count) * 1000
    return means
