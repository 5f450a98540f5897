"""The system on one machine: which services, in which order, wired to which addresses."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.launcher.processes import ServiceProcess

# Start order: each service only needs the ones before it.
ORDER = ("feed", "vault", "executor", "engine", "gateway")
BACKEND = ORDER[:-1]
# The live-mode stand-ins (Solana JSON-RPC, Data API, swap API) come first when asked for.
LIVE_SIM_ORDER = ("venue_sim", *ORDER)
HTTP_SERVICES = ("gateway", "venue_sim")


@dataclass
class System:
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def address(self, name: str) -> str:
        address = self.processes[name].address
        if address is None:
            raise RuntimeError(f"{name} has not started")
        return address

    async def stop(self) -> None:
        """Stops the services in the reverse of their start order."""
        for process in reversed(list(self.processes.values())):
            await process.stop()


def wiring_env(name: str, system: System, ports: Mapping[str, int]) -> dict[str, str]:
    """The port a service binds and the addresses of the services it calls."""
    env = {"PORT": str(ports.get(name, 0))}
    if name in ("executor", "engine"):
        env["FEED_ADDRESS"] = system.address("feed")
    if name == "engine":
        env["EXECUTOR_ADDRESS"] = system.address("executor")
        env["VAULT_ADDRESS"] = system.address("vault")
    if name == "gateway":
        # The internet-facing gateway reaches the feed and the engine only.
        env["FEED_ADDRESS"] = system.address("feed")
        env["ENGINE_ADDRESS"] = system.address("engine")
    return env


async def start_system(
    log_dir: Path,
    *,
    ports: Mapping[str, int] | None = None,
    env: Mapping[str, str] | None = None,
    per_service_env: Mapping[str, Mapping[str, str]] | None = None,
    services: tuple[str, ...] = ORDER,
    timeout: float = 60.0,
) -> System:
    """Starts `services` in order; on any failure stops what started and raises."""
    system = System()
    ports = ports or {}
    try:
        for name in services:
            child_env = {
                **(env or {}),
                **wiring_env(name, system, ports),
                **(per_service_env or {}).get(name, {}),
            }
            readiness = "http" if name in HTTP_SERVICES else "grpc"
            process = ServiceProcess(
                name, child_env, log_dir / f"{name}.log", readiness=readiness
            )
            system.processes[name] = process
            await process.start(timeout)
    except BaseException:
        await asyncio.shield(system.stop())
        raise
    return system
