"""`make run`: every service on loopback in paper mode, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from services.launcher.live_sim import live_sim_env
from services.launcher.metrics import DEFAULT_METRICS_PORT, serve_launcher_metrics
from services.launcher.processes import ServiceStartError
from services.launcher.run_secrets import api_token_path, new_service_token, write_api_token
from services.launcher.supervisor import Supervisor
from services.launcher.topology import BACKEND, LIVE_SIM_ORDER, ORDER, System, start_system

DEFAULT_PORTS = {
    "feed": 50051, "vault": 50052, "executor": 50053, "engine": 50054, "gateway": 8000,
}


# A first start opens a week into the recorded data: the funding charts have a week behind them
# instead of one point (the Helm chart's feed does the same).
LEAD_IN_DAYS = 7


def _ports() -> dict[str, int]:
    return {
        name: int(os.environ.get(f"DNE_{name.upper()}_PORT", port))
        for name, port in DEFAULT_PORTS.items()
    }


def _log_to(log_dir: Path) -> None:
    """The supervisor's restarts, on stderr and in launcher.log next to the services' logs."""
    log_dir.mkdir(parents=True, exist_ok=True)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    file = logging.FileHandler(log_dir / "launcher.log")
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("services.launcher")
    logger.setLevel(logging.INFO)
    logger.addHandler(console)
    logger.addHandler(file)


async def main(live_sim: bool = False) -> int:
    root = Path.cwd()
    var = Path(os.environ.get("DNE_VAR_DIR", root / ("var/live-sim" if live_sim else "var")))
    log_dir = var / "log"
    env = {
        "PAPER_STATE_PATH": os.environ.get("PAPER_STATE_PATH", str(var / "paper_venue.json")),
        "ENGINE_STATE_PATH": os.environ.get("ENGINE_STATE_PATH", str(var / "engine_state.json")),
        "FEED_STATE_PATH": os.environ.get("FEED_STATE_PATH", str(var / "feed_state.json")),
        "DNE_IMPORT_DIR": os.environ.get("DNE_IMPORT_DIR", str(var / "history")),
        "REPLAY_LEAD_IN_DAYS": os.environ.get("REPLAY_LEAD_IN_DAYS", str(LEAD_IN_DAYS)),
    }
    # Like Jupyter: a token made for this run unless one is configured, shown only in the URL.
    configured = os.environ.get("DNE_API_TOKEN")
    token = configured or secrets.token_urlsafe(24)
    # A token the user set is theirs to know: never echoed into a log or a terminal recording.
    shown_token = "<DNE_API_TOKEN>" if configured else token
    per_service: dict[str, dict[str, str]] = live_sim_env(var) if live_sim else {}
    # Each secret to the one service that uses it (the launcher's environment reaches the
    # services only through the allow-list in processes.py).
    per_service.setdefault("gateway", {})["DNE_API_TOKEN"] = token
    per_service.setdefault("engine", {})["DNE_API_TOKEN"] = token
    # dne's copy of a generated token; a token the user set stays where they keep it (and a
    # previous run's copy, now wrong, goes).
    if configured:
        api_token_path(var).unlink(missing_ok=True)
        dne_reads_from = "$DNE_API_TOKEN"
    else:
        dne_reads_from = str(write_api_token(var, token))
    _, token_files = new_service_token(var)
    for name, values in token_files.items():
        per_service.setdefault(name, {}).update(values)
    per_service.setdefault("vault", {})["DATABASE_URL"] = os.environ.get(
        "DATABASE_URL", f"sqlite:///{var / 'vault.db'}")
    print("Delta Neutral Engine: starting " + (
        "in LIVE mode against the local stand-ins (simulated venue, recorded Drift accounts)"
        if live_sim else "in paper mode on recorded Drift data"), flush=True)
    _log_to(log_dir)
    port = int(os.environ.get("DNE_LAUNCHER_METRICS_PORT", DEFAULT_METRICS_PORT))
    try:
        metrics_address = serve_launcher_metrics(port)
    except OSError as error:
        print(f"start-up failed: launcher metrics on port {port}: {error}", file=sys.stderr)
        return 1
    # Signals are ours from here: a SIGTERM during start-up stops what has started too, and a
    # closed terminal (SIGHUP) stops the services, which run in sessions of their own.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    stopper = asyncio.create_task(stop.wait())
    starting = asyncio.create_task(start_system(
        log_dir, ports=_ports(), env=env, services=LIVE_SIM_ORDER if live_sim else ORDER,
        per_service_env=per_service,
    ))
    await asyncio.wait([stopper, starting], return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()  # start_system stops what it started
        await asyncio.gather(starting, return_exceptions=True)
        print("stopped during start-up.", flush=True)
        return 1
    try:
        system = starting.result()
    except ServiceStartError as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        return 1
    supervisor = Supervisor(system)
    supervisor.start()
    try:
        return await _run(system, supervisor, stopper, live_sim, shown_token, log_dir,
                          metrics_address, dne_reads_from)
    finally:
        # Also when printing fails (stdout closed): the services never outlive the launcher.
        # Supervision ends first: the services exiting now are asked to, not crashing.
        await supervisor.stop()
        await system.stop()
        stopper.cancel()
        print("stopped.", flush=True)


async def _run(
    system: System, supervisor: Supervisor, stopper: asyncio.Task[bool], live_sim: bool,
    shown_token: str, log_dir: Path, metrics_address: str, dne_reads_from: str,
) -> int:
    """Shows where everything is, then waits for a stop signal or for the supervisor to give
    up; answers the exit code."""
    if live_sim:
        print(f"  venue_sim http://{system.address('venue_sim')} (Solana JSON-RPC stand-in)",
              flush=True)
    for name in BACKEND:
        print(f"  {name:<9} grpc://{system.address(name)}", flush=True)
    print(f"  gateway   http://{system.address('gateway')}", flush=True)
    print(f"\n  Dashboard: http://{system.address('gateway')}/?token={shown_token}\n", flush=True)
    print(f"  logs      {log_dir}/", flush=True)
    print(f"  launcher  http://{metrics_address}/metrics (restarts of crashed services)",
          flush=True)
    print("Every service answers gRPC reflection, e.g. "
          f"`grpcurl -plaintext {system.address('engine')} list`.", flush=True)
    print(f"  dne       reads the API token from {dne_reads_from} (engine commands need it)",
          flush=True)
    print("Ready. A service that crashes is restarted. Ctrl-C stops everything.", flush=True)
    gave_up = asyncio.create_task(supervisor.wait_gave_up())
    await asyncio.wait([stopper, gave_up], return_when=asyncio.FIRST_COMPLETED)
    gave_up.cancel()
    print("stopping...", flush=True)
    # The supervisor has said which service gave up and where its log is.
    return 1 if supervisor.gave_up is not None else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(live_sim="--live-sim" in sys.argv[1:])))
