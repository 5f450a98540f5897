"""Idle CPU and resident memory of a process, from /proc (Linux)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time; fields 14 and 15 of /proc/PID/stat, after the command."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS")


async def idle_cpu_percent(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """Each process's CPU over `seconds` of doing nothing, in % of one core."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    await asyncio.sleep(seconds)
    return {name: (cpu_seconds(pid) - before[name]) / seconds * 100
            for name, pid in pids.items()}
