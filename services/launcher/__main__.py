"""`make run`: every service on loopback in paper mode, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path

from services.launcher.live_sim import live_sim_env
from services.launcher.processes import ServiceStartError
from services.launcher.topology import BACKEND, LIVE_SIM_ORDER, ORDER, start_system

DEFAULT_PORTS = {
    "feed": 50051, "vault": 50052, "executor": 50053, "engine": 50054, "gateway": 8000,
}


def _ports() -> dict[str, int]:
    return {
        name: int(os.environ.get(f"DNE_{name.upper()}_PORT", port))
        for name, port in DEFAULT_PORTS.items()
    }


async def main(live_sim: bool = False) -> int:
    root = Path.cwd()
    var = Path(os.environ.get("DNE_VAR_DIR", root / ("var/live-sim" if live_sim else "var")))
    log_dir = var / "log"
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{var / 'vault.db'}"),
        "PAPER_STATE_PATH": os.environ.get("PAPER_STATE_PATH", str(var / "paper_venue.json")),
        "ENGINE_STATE_PATH": os.environ.get("ENGINE_STATE_PATH", str(var / "engine_state.json")),
        "DNE_IMPORT_DIR": os.environ.get("DNE_IMPORT_DIR", str(var / "history")),
    }
    # Like Jupyter: a token made for this run unless one is configured, shown only in the URL.
    token = os.environ.get("DNE_API_TOKEN") or secrets.token_urlsafe(24)
    per_service: dict[str, dict[str, str]] = live_sim_env(var) if live_sim else {}
    per_service.setdefault("gateway", {})["DNE_API_TOKEN"] = token
    print("Delta Neutral Engine: starting " + (
        "in LIVE mode against the local stand-ins (simulated venue, recorded Drift accounts)"
        if live_sim else "in paper mode on recorded Drift data"), flush=True)
    try:
        system = await start_system(
            log_dir, ports=_ports(), env=env, services=LIVE_SIM_ORDER if live_sim else ORDER,
            per_service_env=per_service,
        )
    except ServiceStartError as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        return 1
    if live_sim:
        print(f"  venue_sim http://{system.address('venue_sim')} (Solana JSON-RPC stand-in)",
              flush=True)
    for name in BACKEND:
        print(f"  {name:<9} grpc://{system.address(name)}", flush=True)
    print(f"  gateway   http://{system.address('gateway')}", flush=True)
    print(f"\n  Dashboard: http://{system.address('gateway')}/?token={token}\n", flush=True)
    print(f"  logs      {log_dir}/", flush=True)
    print("Every service answers gRPC reflection, e.g. "
          f"`grpcurl -plaintext {system.address('engine')} list`.", flush=True)
    print("Ready. Ctrl-C stops everything.", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waiters = [asyncio.create_task(p.wait()) for p in system.processes.values()]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
    exit_code = 0
    if stopper not in done:
        dead = [name for name, p in system.processes.items() if not p.running]
        print(f"service exited unexpectedly: {', '.join(dead)}; stopping the rest", file=sys.stderr)
        exit_code = 1
    print("stopping...", flush=True)
    await system.stop()
    for task in [stopper, *waiters]:
        task.cancel()
    print("stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(asyncio.run(main(live_sim="--live-sim" in sys.argv[1:])))
