"""The bench's table on the terminal (rich) and its rows in bench/results.json."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.stats import Row

RESULTS = Path(__file__).with_name("results.json")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    return f"{value:.2f}{unit}" if abs(value) < 100 else f"{value:.0f}{unit}"


def table(rows: list[Row]) -> Table:
    view = Table(title="make bench", show_lines=False)
    for column in ("path", "n", "p50", "p99", "floor p50/p99", "x floor p50/p99", "target",
                   "ok", "note"):
        view.add_column(column, overflow="fold")
    for row in rows:
        has_percentiles = bool(row.samples) or row.value is None
        p50 = _number(row.stat("p50")) if has_percentiles else _number(row.value)
        p99 = _number(row.stat("p99")) if has_percentiles else ""
        floor = (f"{_number(row.floor.stat('p50'))} / {_number(row.floor.stat('p99'))}"
                 if row.floor is not None else "")
        ratio = (f"{_number(row.ratio('p50'))} / {_number(row.ratio('p99'))}"
                 if row.floor is not None else "")
        verdict = {None: "", True: "[green]pass[/]", False: "[red]FAIL[/]"}[row.passed]
        errors = f"{row.errors} errors; " if row.errors else ""
        view.add_row(row.name, str(len(row.samples) or ""), p50, p99, floor, ratio,
                     row.target_text, verdict, errors + row.note)
    return view


def write(rows: list[Row], settings: dict[str, object], path: Path = RESULTS) -> None:
    path.write_text(json.dumps({
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "settings": settings,
        "rows": [row.as_json() for row in rows],
    }, indent=2) + "\n")


def show(rows: list[Row]) -> None:
    Console(width=200).print(table(rows))


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
