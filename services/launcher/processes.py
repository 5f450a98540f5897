"""Starting service processes, learning their ports, waiting for gRPC health, stopping them.

Used by the launcher (`make run`) and by the integration tests, so both run the services the
same way: `python -m services.<name>` as separate processes on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

_LISTENING = re.compile(r"^(\w+) listening on (\S+):(\d+)$")


class ServiceStartError(RuntimeError):
    pass


class ServiceProcess:
    """One service as a child process. Its logs go to `log_path`."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        log_path: Path,
        *,
        module: str | None = None,
        python: str = sys.executable,
        readiness: str = "grpc",
    ) -> None:
        if readiness not in ("grpc", "http"):
            raise ValueError(f"readiness must be 'grpc' or 'http', found {readiness!r}")
        self.readiness = readiness
        self.name = name
        self.module = module or f"services.{name}"
        self.env = dict(env)
        self.log_path = log_path
        self.python = python
        self.address: str | None = None
        # time.monotonic() when the current process reported SERVING; None before.
        self.serving_since: float | None = None
        self._stop_requested = False
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def stop_requested(self) -> bool:
        """True once `stop()` was called for the current process: its exit is not a crash."""
        return self._stop_requested

    async def start(self, timeout: float = 60.0) -> str:
        """Starts the process and answers its address once it reports SERVING."""
        self._stop_requested = False
        self.serving_since = None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("ab")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self._process = await asyncio.create_subprocess_exec(
            self.python, "-m", self.module,
            stdout=asyncio.subprocess.PIPE, stderr=log_file, env=env,
            start_new_session=True,
        )
        log_file.close()
        try:
            self.address = await asyncio.wait_for(self._read_address(), timeout)
            if self.readiness == "grpc":
                await wait_serving(self.address, timeout)
            else:
                await wait_http(self.address, timeout)
        except (TimeoutError, ServiceStartError) as error:
            await self.stop()
            tail = self.log_tail()
            raise ServiceStartError(f"{self.name} did not start: {error}\n{tail}") from error
        self.serving_since = time.monotonic()
        return self.address

    async def restart(self, timeout: float = 60.0) -> str:
        """Starts the service again on the address it had: the others were wired to it."""
        if self.running:
            raise RuntimeError(f"{self.name} is still running")
        if self.address is not None:
            self.env["PORT"] = self.address.rsplit(":", 1)[1]
        with self.log_path.open("a") as log_file:
            log_file.write(f"--- {self.name} restarted by the launcher ---\n")
        return await self.start(timeout)

    async def _read_address(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        while True:
            line = await self._process.stdout.readline()
            if not line:
                raise ServiceStartError(f"{self.name} exited with {await self._process.wait()}")
            match = _LISTENING.match(line.decode(errors="replace").strip())
            if match:
                self._drain = asyncio.create_task(self._drain_stdout())
                return f"{match.group(2)}:{match.group(3)}"

    async def _drain_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self.log_path.open("ab") as log_file:
            while line := await self._process.stdout.readline():
                log_file.write(line)
                log_file.flush()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; answers the exit code."""
        if self._process is None:
            return None
        self._stop_requested = True
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self._process.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self._process.wait()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 2)
        return self._process.returncode

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def wait(self) -> int:
        assert self._process is not None
        return await self._process.wait()


async def wait_serving(address: str, timeout: float = 30.0) -> None:
    """Polls the standard gRPC health service until the server says SERVING."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceStartError(f"no SERVING answer from {address} in {timeout:.0f} s")
            await asyncio.sleep(0.1)


async def wait_http(address: str, timeout: float = 30.0) -> None:
    """Polls GET /health until the server answers at all (degraded counts: it is up)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                reply = await client.get(f"http://{address}/health")
                if reply.status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise ServiceStartError(f"no /health answer from {address} in {timeout:.0f} s")
            await asyncio.sleep(0.1)
