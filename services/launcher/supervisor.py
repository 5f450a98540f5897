"""Keeps a started System up: a service that exits without being asked to is started again.

Restarts back off (0.5 s, 1, 2, 4 ... up to 30 s) while a service keeps crashing; once it has
stayed up for a minute its count starts again. After 5 crashes without staying up in between,
the supervisor gives up and says which service and where its log is; the caller then stops
everything. Each restart binds the address the other services were wired to. A service that
runs but answers nothing is killed (liveness.py), and so started again like a crash.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from services.launcher.liveness import LivenessPolicy, kill_when_hung
from services.launcher.metrics import SERVICE_RESTARTS
from services.launcher.processes import ServiceProcess, ServiceStartError
from services.launcher.topology import System

log = logging.getLogger(__name__)
DEFAULT_LIVENESS = LivenessPolicy()


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5  # seconds before the first restart; doubles on each crash after
    max_delay: float = 30.0
    stable_after: float = 60.0  # up this long, a service's crash count starts again
    max_crashes: int = 5  # crashes without staying up in between before giving up
    start_timeout: float = 60.0


@dataclass(frozen=True)
class Restart:
    """One restart, for logs and for tests that time recovery. Times are time.monotonic()."""

    service: str
    number: int  # 1 for the first restart of this service since supervision began
    attempt: int  # 1 for the first restart since the service last stayed up
    exit: str  # "exit code 1", "killed by SIGKILL"
    delay: float
    exited_at: float  # when the supervisor saw the old process exit
    serving_at: float  # when the new process reported SERVING
    address: str


@dataclass(frozen=True)
class GaveUp:
    service: str
    crashes: int
    last_exit: str
    log_path: Path
    stable_after: float

    def __str__(self) -> str:
        return (
            f"{self.service} crashed {self.crashes} times without staying up "
            f"{self.stable_after:g} s (last: {self.last_exit}); giving up. "
            f"Its log: {self.log_path}"
        )


class ServiceCrashed(Exception):
    def __init__(self, exit: str) -> None:
        super().__init__(exit)
        self.exit = exit
        self.exited_at = time.monotonic()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


class Supervisor:
    """Restarts the services of a started `system` until `stop()`; stopping them is the
    caller's job (`system.stop()` after `stop()`, so that no stop is taken for a crash)."""

    def __init__(
        self,
        system: System,
        policy: RestartPolicy | None = None,
        on_restart: Callable[[Restart], None] | None = None,
        liveness: LivenessPolicy | None = DEFAULT_LIVENESS,
    ) -> None:
        self.system = system
        self.policy = policy or RestartPolicy()
        self.liveness = liveness
        self.gave_up: GaveUp | None = None
        self._on_restart = on_restart
        self._restarts: dict[str, list[Restart]] = {name: [] for name in system.processes}
        self._changed = asyncio.Condition()
        self._gave_up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._starting: set[asyncio.Task[str]] = set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._keep_up(name), name=f"supervise {name}")
            for name in self.system.processes
        ]
        if self.liveness is not None:
            self._tasks += [
                asyncio.create_task(kill_when_hung(process, self.liveness),
                                    name=f"liveness {name}")
                for name, process in self.system.processes.items()
            ]

    async def stop(self) -> None:
        """Restarts nothing from now on; a restart under way finishes, so `system.stop()`
        finds its process."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*self._starting, return_exceptions=True)

    async def __aenter__(self) -> Supervisor:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def restarts(self, name: str) -> list[Restart]:
        return list(self._restarts[name])

    async def wait_restarted(self, name: str, count: int = 1, timeout: float = 30.0) -> Restart:
        """Answers restart number `count` of `name` once its new process is SERVING."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: len(self._restarts[name]) >= count or self.gave_up is not None
                ),
                timeout,
            )
        if len(self._restarts[name]) < count:
            raise RuntimeError(f"no restart {count} of {name}: {self.gave_up}")
        return self._restarts[name][count - 1]

    async def wait_gave_up(self) -> GaveUp:
        await self._gave_up.wait()
        assert self.gave_up is not None
        return self.gave_up

    async def _keep_up(self, name: str) -> None:
        process = self.system.processes[name]
        crashes: list[tuple[ServiceCrashed, float]] = []  # this round's, with their delays

        def before_restart(state: RetryCallState) -> None:
            assert state.outcome is not None and state.next_action is not None
            crash = state.outcome.exception()
            assert isinstance(crash, ServiceCrashed)
            delay = state.next_action.sleep
            crashes.append((crash, delay))
            log.warning(
                "%s crashed (%s); restart attempt %d of %d in %.1f s",
                name, crash.exit, state.attempt_number, self.policy.max_crashes - 1, delay,
            )

        try:
            while not process.stop_requested:
                # One round: the service runs until it crashes, then restarts with growing
                # delays until one run stays up `stable_after` (next round) or we give up.
                crashes.clear()
                async for attempt in AsyncRetrying(
                    wait=wait_exponential(
                        multiplier=self.policy.first_delay, max=self.policy.max_delay),
                    stop=stop_after_attempt(self.policy.max_crashes),
                    retry=retry_if_exception_type(ServiceCrashed),
                    before_sleep=before_restart,
                    reraise=True,
                ):
                    with attempt:
                        if attempt.retry_state.attempt_number == 1:
                            await self._wait_for_crash(process)
                        else:
                            crash, delay = crashes[-1]
                            await self._restart(process, len(crashes), crash, delay)
                            await self._wait_for_crash(process, self.policy.stable_after)
        except ServiceCrashed as crash:
            self.gave_up = GaveUp(
                name, self.policy.max_crashes, crash.exit, process.log_path,
                self.policy.stable_after,
            )
            log.error("%s", self.gave_up)
            self._gave_up.set()
            async with self._changed:
                self._changed.notify_all()

    @staticmethod
    async def _wait_for_crash(process: ServiceProcess, up_for: float | None = None) -> None:
        """Raises ServiceCrashed if the process exits without being asked to; returns if it
        was asked to, or once it has stayed up `up_for` seconds."""
        try:
            returncode = await asyncio.wait_for(process.wait(), up_for)
        except TimeoutError:
            return
        if not process.stop_requested:
            raise ServiceCrashed(describe_exit(returncode))

    async def _restart(
        self, process: ServiceProcess, attempt: int, crash: ServiceCrashed, delay: float
    ) -> None:
        SERVICE_RESTARTS.labels(service=process.name).inc()
        old_address = process.address
        starting = asyncio.create_task(process.restart(self.policy.start_timeout))
        self._starting.add(starting)
        starting.add_done_callback(self._starting.discard)
        try:
            # Shielded: a stop during the start lets it finish, so no process is left behind.
            address = await asyncio.shield(starting)
        except ServiceStartError as error:
            reason = str(error).splitlines()[0].removeprefix(f"{process.name} did not start: ")
            raise ServiceCrashed(f"failed to start again: {reason}") from error
        if address != old_address:
            log.error("%s came back on %s, not %s: the others still call %s",
                      process.name, address, old_address, old_address)
        assert process.serving_since is not None
        restart = Restart(
            service=process.name, number=len(self._restarts[process.name]) + 1, attempt=attempt,
            exit=crash.exit, delay=delay, exited_at=crash.exited_at,
            serving_at=process.serving_since, address=address,
        )
        log.info("%s is SERVING again on %s, %.1f s after it exited (restart %d)",
                    process.name, address, restart.serving_at - restart.exited_at,
                    restart.number)
        async with self._changed:
            self._restarts[process.name].append(restart)
            self._changed.notify_all()
        if self._on_restart is not None:
            self._on_restart(restart)
