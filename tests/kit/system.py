"""The whole backend as real processes on loopback, with gRPC stubs to drive it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from dne.backtest.v1 import backtest_pb2_grpc
from dne.engine.v1 import engine_pb2_grpc
from dne.executor.v1 import executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from dne.vault.v1 import vault_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.venue_profile import load_profile
from services.launcher.live_sim import live_sim_env
from services.launcher.processes import ServiceProcess
from services.launcher.run_secrets import new_service_token
from services.launcher.topology import BACKEND, ORDER, System, start_system
from tests.kit.ports import free_port

# Fast settings for tests: market time paused and moved explicitly, ticks every 0.2 s,
# vault retries in tenths of a second (their schedule is proven separately at 1, 2, 4 s).
FAST_ENGINE_ENV = {
    "TICK_INTERVAL_SEC": "0.2",
    "VAULT_RETRY_DELAYS_SEC": "0.1,0.2,0.4",
    # System tests take carries to exercise their mechanics on the recorded days, whose SOL
    # rates (~8 % APR) do not pay a round trip's fees twice over 30 days; a year's horizon
    # does. The fee guard itself is tested in tests/engine.
    "PROFIT_HORIZON_HOURS": "8760",
}


TEST_API_TOKEN = "test-token-0123456789abcdef"


@dataclass
class Stubs:
    feed: feed_pb2_grpc.FeedServiceStub
    replay: feed_pb2_grpc.ReplayControlServiceStub
    executor: executor_pb2_grpc.ExecutorServiceStub
    paper: executor_pb2_grpc.PaperVenueControlServiceStub
    vault: vault_pb2_grpc.VaultServiceStub
    engine: engine_pb2_grpc.EngineServiceStub
    backtest: backtest_pb2_grpc.BacktestServiceStub


@dataclass
class RunningSystem:
    system: System
    stubs: Stubs
    var_dir: Path
    api_token: str = ""
    service_token: str = ""  # what the engine sends the executor and the vault
    live_env: Mapping[str, Mapping[str, str]] | None = None  # set in live-sim mode
    profile_name: str = "drift"  # the venue profile every service runs on

    @property
    def venue_sim_url(self) -> str:
        """The Solana JSON-RPC stand-in (its /_control endpoints steer each test)."""
        return f"http://{self.system.address('venue_sim')}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.system.address('gateway')}"


@asynccontextmanager
async def running_system(
    var_dir: Path,
    database_url: str,
    *,
    feed_env: Mapping[str, str] | None = None,
    engine_env: Mapping[str, str] | None = None,
    gateway: bool = False,
    gateway_env: Mapping[str, str] | None = None,
    live_sim: bool = False,
    common_env: Mapping[str, str] | None = None,
    executor_env: Mapping[str, str] | None = None,
    venue_sim_env: Mapping[str, str] | None = None,
    vault_env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningSystem]:
    """Starts feed, vault, executor and engine (and the gateway when asked); the vault keeps
    its port across restarts."""
    per_service = {
        "feed": {"DNE_IMPORT_DIR": str(var_dir / "history"),
                 "FEED_STATE_PATH": str(var_dir / "feed_state.json"), **(feed_env or {})},
        "vault": {"DATABASE_URL": database_url, **(vault_env or {})},
        "executor": {"PAPER_STATE_PATH": str(var_dir / "paper_venue.json")},
        "engine": {"ENGINE_STATE_PATH": str(var_dir / "engine_state.json"), **FAST_ENGINE_ENV,
                   **(engine_env or {})},
        "gateway": {"DNE_API_TOKEN": TEST_API_TOKEN, **(gateway_env or {})},
    }
    # As `make run` does: the user's token to the gateway and the engine, a service token made
    # for this system to the engine, the executor and the vault.
    per_service["engine"].setdefault("DNE_API_TOKEN", TEST_API_TOKEN)
    service_token, token_files = new_service_token(var_dir)
    for name, values in token_files.items():
        per_service[name].update(values)
    profile = load_profile((common_env or {}).get("VENUE_PROFILE") or "drift")
    live_env = live_sim_env(var_dir, profile=profile) if live_sim else None
    services = ORDER if gateway else BACKEND
    if live_env is not None:
        # Live mode against the stand-ins, exactly as `make run-live-sim` wires it.
        services = ("venue_sim", *services)
        for name, values in live_env.items():
            per_service[name] = {**per_service.get(name, {}), **values}
    per_service["executor"].update(executor_env or {})
    per_service.setdefault("venue_sim", {}).update(venue_sim_env or {})
    system = await start_system(
        var_dir / "log",
        ports={"vault": free_port()},
        env={"LOG_FORMAT": "text", **(common_env or {})},
        per_service_env=per_service,
        services=services,
    )
    # The services' own channel settings: a test that restarts a service reaches it again
    # as quickly as the services do.
    # The stubs carry the tokens, as the engine and the gateway do: tests drive every service.
    tokens = {"engine": TEST_API_TOKEN, "executor": service_token, "vault": service_token}
    channels = {name: open_channel(system.address(name), tokens.get(name)) for name in BACKEND}
    try:
        stubs = Stubs(
            feed=feed_pb2_grpc.FeedServiceStub(channels["feed"]),
            replay=feed_pb2_grpc.ReplayControlServiceStub(channels["feed"]),
            executor=executor_pb2_grpc.ExecutorServiceStub(channels["executor"]),
            paper=executor_pb2_grpc.PaperVenueControlServiceStub(channels["executor"]),
            vault=vault_pb2_grpc.VaultServiceStub(channels["vault"]),
            engine=engine_pb2_grpc.EngineServiceStub(channels["engine"]),
            backtest=backtest_pb2_grpc.BacktestServiceStub(channels["engine"]),
        )
        yield RunningSystem(system, stubs, var_dir, TEST_API_TOKEN if gateway else "",
                            service_token, live_env, profile.name)
    finally:
        for channel in channels.values():
            await channel.close()
        await system.stop()


async def kill_9(process: ServiceProcess) -> str:
    """A crash: SIGKILL, waited for; answers the address it served, for `restart_on`."""
    address = process.address
    assert address is not None
    process.kill()
    await process.wait()
    return address


async def restart_on(process: ServiceProcess, address: str) -> float:
    """Starts it again where the others call it, as the supervisor does; answers the
    time.monotonic() at which it served again."""
    assert await process.restart() == address
    return time.monotonic()
