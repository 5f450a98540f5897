"""Starting service processes, learning their ports, waiting for gRPC health, stopping them.

Used by the launcher (`make run`) and by the integration tests, so both run the services the
same way: `python -m services.<name>` as separate processes on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import functools
import importlib
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

from services.launcher import parent_death

_LISTENING = re.compile(r"^(\w+) listening on (\S+):(\d+)$")


# What every child may inherit from the launcher's environment: the basics of a process, the
# interpreter's own settings, telemetry and logging. Anything else it inherits only if its
# settings class reads it (SERVICE_SETTINGS); the launcher's explicit wiring always reaches it.
BASE_ENV_ALLOWED = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_*", "TZ", "TMPDIR", "TERM",
    "PYTHON*", "VIRTUAL_ENV", "OTEL_*", "LOG_*", "GRPC_*",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "COVERAGE_*", "COV_CORE_*",
)
# The secrets, and the only services that ever get them: from the launcher's environment or
# from the wiring alike. The key goes to the executor only when it runs the live driver.
# The service token (and the name of its file) reaches only the engine and the two services
# that answer the engine alone; the API token only the gateway and the engine it commands.
SECRETS: dict[str, frozenset[str]] = {
    "SOLANA_PRIVATE_KEY": frozenset({"executor"}),
    "DNE_API_TOKEN": frozenset({"gateway", "engine"}),
    "DATABASE_URL": frozenset({"vault"}),
    "SERVICE_TOKEN": frozenset({"engine", "executor", "vault"}),
    "SERVICE_TOKEN_FILE": frozenset({"engine", "executor", "vault"}),
}
# Each service's settings class: the environment names it reads are derived from its fields.
SERVICE_SETTINGS = {
    "feed": "services.feed.settings:FeedSettings",
    "vault": "services.vault.settings:VaultSettings",
    "executor": "services.executor.settings:ExecutorSettings",
    "engine": "services.engine.settings:EngineSettings",
    "gateway": "services.gateway.settings:GatewaySettings",
    "venue_sim": "services.venue_sim.settings:VenueSimSettings",
}


class ServiceStartError(RuntimeError):
    pass


@functools.cache
def settings_env_names(service: str) -> frozenset[str]:
    """The environment names a service's settings read: field names upper-cased, or their
    validation aliases. Empty for a module the launcher does not know."""
    target = SERVICE_SETTINGS.get(service)
    if target is None:
        return frozenset()
    module, _, class_name = target.partition(":")
    settings_class = getattr(importlib.import_module(module), class_name)
    prefix = settings_class.model_config.get("env_prefix", "") or ""
    names: set[str] = set()
    for field_name, info in settings_class.model_fields.items():
        alias = info.validation_alias or info.alias
        if alias is None:
            names.add(f"{prefix}{field_name}".upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:  # AliasChoices
            names.update(choice.upper() for choice in getattr(alias, "choices", ())
                         if isinstance(choice, str))
    return frozenset(names)


def _may_have_secret(service: str, name: str, env: Mapping[str, str]) -> bool:
    if service not in SECRETS[name]:
        return False
    if name == "SOLANA_PRIVATE_KEY":
        return env.get("EXECUTOR_DRIVER", "paper").strip().lower() == "drift"
    return True


def child_environment(
    service: str, inherited: Mapping[str, str], wired: Mapping[str, str]
) -> dict[str, str]:
    """What a service's process gets: the allowed part of the launcher's environment, then the
    launcher's wiring on top, with no secret the service has no use for."""
    own = settings_env_names(service) | {name for name in SECRETS if service in SECRETS[name]}
    env = {
        key: value for key, value in inherited.items()
        if key.upper() in own or any(fnmatch.fnmatchcase(key, p) for p in BASE_ENV_ALLOWED)
    }
    env.update(wired)
    for name in SECRETS:
        for key in [key for key in env if key.upper() == name]:
            if not _may_have_secret(service, name, env):
                del env[key]
    return env


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
        env = {**child_environment(self.name, os.environ, self.env), "PYTHONUNBUFFERED": "1"}
        self._process = await asyncio.create_subprocess_exec(
            *parent_death.command(self.python, self.module),
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
