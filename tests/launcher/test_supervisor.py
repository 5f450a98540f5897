"""The supervisor on a stand-in service that crashes on cue: restarts, backoff, give-up, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest
from prometheus_client import REGISTRY

from services.launcher.processes import ServiceProcess, wait_serving
from services.launcher.supervisor import Restart, RestartPolicy, Supervisor
from services.launcher.topology import System

pytestmark = pytest.mark.integration

# Delays in tenths of a second, so that backoff and give-up take seconds, not minutes.
FAST = RestartPolicy(first_delay=0.1, max_delay=0.3, stable_after=5.0, max_crashes=5,
                     start_timeout=20)


def restart_total(service: str) -> float:
    return REGISTRY.get_sample_value("dne_service_restarts_total", {"service": service}) or 0.0


def starts(tmp_path: Path) -> int:
    return int((tmp_path / "starts").read_text())


@asynccontextmanager
async def supervised_crashy(
    tmp_path: Path, policy: RestartPolicy = FAST, seen: list[Restart] | None = None,
    **env: str,
) -> AsyncIterator[tuple[ServiceProcess, Supervisor]]:
    process = ServiceProcess(
        "crashy", {"PORT": "0", "CRASHY_STARTS_FILE": str(tmp_path / "starts"), **env},
        tmp_path / "crashy.log", module="tests.launcher.crashy_service",
    )
    system = System({"crashy": process})
    on_restart = None if seen is None else seen.append
    await process.start(timeout=20)
    try:
        async with Supervisor(system, policy, on_restart) as supervisor:
            yield process, supervisor
    finally:
        await system.stop()


async def test_a_crashing_service_comes_back_on_its_address_after_growing_delays(
    tmp_path: Path,
) -> None:
    before = restart_total("crashy")
    seen: list[Restart] = []
    async with supervised_crashy(tmp_path, seen=seen, CRASHY_CRASHES="3",
                                 CRASHY_UP_SEC="0.3") as (process, supervisor):
        address = process.address
        third = await supervisor.wait_restarted("crashy", 3, timeout=20)
        restarts = supervisor.restarts("crashy")
        await wait_serving(third.address, timeout=5)
        await asyncio.sleep(FAST.max_delay + 0.5)  # the fourth start stays up
        assert starts(tmp_path) == 4 and process.running
    assert [r.delay for r in restarts] == [0.1, 0.2, 0.3]  # doubling, capped at max_delay
    assert [r.attempt for r in restarts] == [1, 2, 3]
    assert [r.number for r in restarts] == [1, 2, 3]
    assert {r.address for r in restarts} == {address}
    assert {r.exit for r in restarts} == {"exit code 3"}
    assert all(r.serving_at - r.exited_at >= r.delay for r in restarts)
    assert seen == restarts
    assert restart_total("crashy") - before == 3
    assert supervisor.gave_up is None


async def test_a_service_that_keeps_crashing_makes_the_supervisor_give_up_naming_its_log(
    tmp_path: Path,
) -> None:
    policy = RestartPolicy(first_delay=0.05, max_delay=0.1, stable_after=5.0, max_crashes=3)
    async with supervised_crashy(tmp_path, policy, CRASHY_CRASHES="-1",
                                 CRASHY_UP_SEC="0.1") as (process, supervisor):
        gave_up = await asyncio.wait_for(supervisor.wait_gave_up(), 20)
        assert not process.running
        assert len(supervisor.restarts("crashy")) == 2
        await asyncio.sleep(0.3)
        assert starts(tmp_path) == 3  # nothing started after giving up
    assert (gave_up.service, gave_up.crashes, gave_up.last_exit) == ("crashy", 3, "exit code 3")
    assert gave_up.log_path == tmp_path / "crashy.log"
    assert str(tmp_path / "crashy.log") in str(gave_up) and "crashy crashed 3 times" in str(
        gave_up)


async def test_the_crash_count_starts_again_once_a_service_has_stayed_up(
    tmp_path: Path,
) -> None:
    # Two crashes in a row would give up; each run here outlives stable_after first.
    policy = RestartPolicy(first_delay=0.1, max_delay=1.0, stable_after=0.3, max_crashes=2)
    async with supervised_crashy(tmp_path, policy, CRASHY_CRASHES="-1",
                                 CRASHY_UP_SEC="0.5") as (_, supervisor):
        await supervisor.wait_restarted("crashy", 3, timeout=20)
        restarts = supervisor.restarts("crashy")
    assert [r.attempt for r in restarts] == [1, 1, 1]
    assert [r.delay for r in restarts] == [0.1, 0.1, 0.1]
    assert supervisor.gave_up is None


async def test_an_exit_the_launcher_did_not_ask_for_is_a_crash_even_with_code_0(
    tmp_path: Path,
) -> None:
    async with supervised_crashy(tmp_path) as (process, supervisor):
        assert process.pid is not None
        os.kill(process.pid, signal.SIGTERM)  # someone else's SIGTERM: a clean exit, unasked
        restart = await supervisor.wait_restarted("crashy", 1, timeout=20)
    assert restart.exit == "exit code 0"


async def test_a_kill_9_is_reported_as_the_signal(tmp_path: Path) -> None:
    async with supervised_crashy(tmp_path) as (process, supervisor):
        process.kill()
        restart = await supervisor.wait_restarted("crashy", 1, timeout=20)
    assert restart.exit == "killed by SIGKILL"


async def test_a_service_the_launcher_stops_stays_stopped(tmp_path: Path) -> None:
    async with supervised_crashy(tmp_path) as (process, supervisor):
        assert await process.stop() == 0
        await asyncio.sleep(FAST.first_delay + 1.0)
        assert not process.running
        assert supervisor.restarts("crashy") == []
    assert starts(tmp_path) == 1


async def test_stopping_the_supervisor_during_a_restart_leaves_no_process_behind(
    tmp_path: Path,
) -> None:
    policy = RestartPolicy(first_delay=0.0, stable_after=5.0)
    async with supervised_crashy(tmp_path, policy) as (process, supervisor):
        first_pid = process.pid
        process.kill()
        for _ in range(1000):  # until the restart has spawned, before it is SERVING
            if process.pid != first_pid:
                break
            await asyncio.sleep(0.01)
        restarting_pid = process.pid
        await supervisor.stop()
    assert supervisor.restarts("crashy") == []
    assert not process.running
    assert restarting_pid is not None and not psutil.pid_exists(restarting_pid)


async def test_a_restart_that_cannot_bind_its_port_is_retried_until_the_port_is_free(
    tmp_path: Path,
) -> None:
    async with supervised_crashy(tmp_path) as (process, supervisor):
        assert process.address is not None
        port = int(process.address.rsplit(":", 1)[1])
        process.kill()
        await process.wait()
        with socket.socket() as squatter:  # takes the port before the restart
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            for _ in range(1000):  # until the first restart has tried and failed
                if (tmp_path / "starts").read_text() == "2" and not process.running:
                    break
                await asyncio.sleep(0.01)
        restart = await supervisor.wait_restarted("crashy", 1, timeout=20)
    assert (restart.number, restart.attempt) == (1, 2)
    assert restart.exit.startswith("failed to start again: crashy exited with 1")
    assert restart.address == f"127.0.0.1:{port}"
