"""`python -m services.launcher`, as `make run` runs it: it repairs a kill -9, stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import grpc
import httpx
import psutil
import pytest

from dne.feed.v1 import feed_pb2, feed_pb2_grpc
from services.launcher.processes import wait_serving
from tests.kit.feed_builders import FIRST_DAY

pytestmark = pytest.mark.integration

SERVICES = ("feed", "vault", "executor", "engine", "gateway")


def launcher_env(var: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DNE_")}
    for key in ("DATABASE_URL", "PAPER_STATE_PATH", "ENGINE_STATE_PATH"):
        env.pop(key, None)
    return {
        **env,
        "DNE_VAR_DIR": str(var),
        "DNE_LAUNCHER_METRICS_PORT": "0",
        **{f"DNE_{name.upper()}_PORT": "0" for name in SERVICES},
    }


async def read_until_ready(stdout: asyncio.StreamReader, timeout: float = 90) -> str:
    lines: list[str] = []

    async def read() -> None:
        while line := (await stdout.readline()).decode():
            lines.append(line)
            if line.startswith("Ready."):
                return
        raise AssertionError("the launcher exited before it was ready:\n" + "".join(lines))

    await asyncio.wait_for(read(), timeout)
    return "".join(lines)


def address_in(banner: str, pattern: str) -> str:
    match = re.search(pattern, banner)
    assert match, f"no {pattern!r} in the launcher's banner:\n{banner}"
    return match.group(1)


def service_processes(launcher_pid: int) -> dict[str, psutil.Process]:
    children = psutil.Process(launcher_pid).children()
    return {
        child.cmdline()[-1].removeprefix("services."): child
        for child in children if child.cmdline()[-2:-1] == ["-m"]
    }


async def restarts_metric(metrics_address: str, service: str) -> float:
    async with httpx.AsyncClient(timeout=2) as client:
        text = (await client.get(f"http://{metrics_address}/metrics")).text
    match = re.search(rf'^dne_service_restarts_total{{service="{service}"}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


async def test_the_launcher_restarts_a_killed_feed_and_stops_everything_on_sigterm(
    tmp_path: Path,
) -> None:
    stderr = (tmp_path / "launcher.stderr").open("wb")
    launcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.launcher", env=launcher_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=stderr,
    )
    children: dict[str, psutil.Process] = {}
    try:
        assert launcher.stdout is not None
        banner = await read_until_ready(launcher.stdout)
        feed_address = address_in(banner, r"feed\s+grpc://(\S+)")
        metrics_address = address_in(banner, r"launcher\s+http://(\S+)/metrics")
        children = service_processes(launcher.pid)
        assert set(children) == set(SERVICES)
        assert await restarts_metric(metrics_address, "feed") == 0
        # A first start opens a week into the recorded data (the charts have a week behind).
        async with grpc.aio.insecure_channel(feed_address) as channel:
            clock = await feed_pb2_grpc.FeedServiceStub(channel).GetClock(
                feed_pb2.GetClockRequest(), timeout=10)
        opened = clock.clock.now.ToDatetime(tzinfo=UTC)
        assert FIRST_DAY + timedelta(days=7) <= opened < FIRST_DAY + timedelta(days=7, hours=6)

        killed_at = time.monotonic()
        children["feed"].kill()
        while await restarts_metric(metrics_address, "feed") < 1:
            assert time.monotonic() - killed_at < 15, "the feed was not restarted"
            await asyncio.sleep(0.1)
        await wait_serving(feed_address, timeout=15)
        recovered = time.monotonic() - killed_at
        print(f"launcher: kill -9 of the feed to SERVING again: {recovered:.1f} s")
        assert recovered < 15
        new_feed = service_processes(launcher.pid)["feed"]
        assert new_feed.pid != children["feed"].pid
        children["new feed"] = new_feed
        log = (tmp_path / "log" / "launcher.log").read_text()
        assert "feed crashed (killed by SIGKILL); restart attempt 1 of 4 in 0.5 s" in log

        stopping_at = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(launcher.wait(), 15) == 0
        stopped_in = time.monotonic() - stopping_at
        print(f"launcher: SIGTERM to every service stopped: {stopped_in:.1f} s")
        assert stopped_in < 10
        alive = [name for name, child in children.items() if child.is_running()
                 and child.status() != psutil.STATUS_ZOMBIE]
        assert alive == []
        # A stop is not a crash: still the one restart, in the log as on stderr.
        log = (tmp_path / "log" / "launcher.log").read_text()
        assert log.count("restart attempt") == 1
        assert "feed crashed (killed by SIGKILL)" in (tmp_path / "launcher.stderr").read_text()
    finally:
        for child in children.values():
            if child.is_running():
                child.kill()
        if launcher.returncode is None:
            launcher.kill()
            await launcher.wait()
        stderr.close()



async def test_a_killed_launcher_takes_its_services_with_it(tmp_path: Path) -> None:
    """kill -9 of the launcher gives it no chance to stop anything: the services must notice by
    themselves, or they hold their ports and the next `make run` cannot start."""
    launcher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.launcher", env=launcher_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    children: dict[str, psutil.Process] = {}
    try:
        assert launcher.stdout is not None
        await read_until_ready(launcher.stdout)
        children = service_processes(launcher.pid)
        assert set(children) == set(SERVICES)
        launcher.kill()
        await launcher.wait()
        _, alive = psutil.wait_procs(list(children.values()), timeout=10)
        assert [child.name() for child in alive] == []
    finally:
        for child in children.values():
            if child.is_running():
                child.kill()
