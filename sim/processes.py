"""The three processes of the order path, each able to crash and restart with only what it
persisted: the vault its SQLite file, the executor its paper venue state file, the engine its
state file (ENGINE_STATE_PATH), built as services/engine/__main__.py builds it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from services.common.clock import ManualClock
from services.common.market_clock import FeedClock
from services.engine.engine import FundingEngine
from services.engine.servicer import EngineServicer
from services.engine.settings import EngineSettings
from services.executor.market_data import FeedMarketData
from services.executor.paper_driver import PaperDriver
from services.executor.paper_state import StateFile
from services.executor.servicer import ExecutorServicer
from services.executor.settings import ExecutorSettings
from services.vault.database import create_engine
from services.vault.servicer import VaultServicer
from services.vault.store import VaultStore
from sim.events import RecordingBus, Seen
from sim.feed import SimFeed
from sim.inline_io import run_inline
from sim.transport import Network


class VaultProcess:
    """VaultServicer over a VaultStore on the schedule's SQLite file. The SQLAlchemy engine is
    the worker's (its compiled statements stay warm from one schedule to the next); a crash
    empties its connection pool and drops the store, so a restart keeps nothing but the file."""

    name = "vault"

    def __init__(self, database: Engine, clock: ManualClock) -> None:
        self._database = database
        self._clock = clock
        self.up = False
        self.downtime_calls = 0
        self.store: VaultStore | None = None
        self.servicer: VaultServicer | None = None

    async def restart(self) -> None:
        self.store = VaultStore(self._database, self._clock, run=run_inline)
        self.servicer = VaultServicer(self.store)
        self.up, self.downtime_calls = True, 0

    async def crash(self, downtime_calls: int) -> None:
        self.up, self.downtime_calls = False, downtime_calls
        self._database.dispose()
        self.store = self.servicer = None


class VaultFile:
    """A worker's vault database: one path and one SQLAlchemy engine for every schedule."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "vault.db"
        self.engine = create_engine(f"sqlite:///{self.path}")

    async def create_schema(self) -> None:
        await VaultStore(self.engine, ManualClock(datetime.now(UTC)),
                         run=run_inline).create_schema()
        self.engine.dispose()

    async def close(self) -> None:
        """Connections closed, so the file (and nothing in a WAL) is the whole vault."""
        self.engine.dispose()


def restore(snapshot: Path, directory: Path) -> None:
    """Replaces every file of `directory` with the snapshot's: a schedule starts from it."""
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(snapshot, directory)


def engine_settings(directory: Path) -> EngineSettings:
    """From the environment, as the engine's __main__ reads them, with addresses (unused
    in-process) and a tick interval the schedule replaces by explicit ticks."""
    values: dict[str, Any] = {
        "feed_address": "sim-feed", "executor_address": "sim-executor",
        "vault_address": "sim-vault",
        "tick_interval_sec": 3600,  # the loop's wall-clock wait never ends in a schedule
    }
    # Whatever the engine persists (its state file) lives in the schedule's directory, so a
    # crashed engine's successor finds it there.
    for name in EngineSettings.model_fields:
        if name.endswith(("_state_path", "_state_file", "_journal_path")):
            values[name] = str(directory / f"{name}.json")
    return EngineSettings(**values)


def executor_settings(directory: Path) -> ExecutorSettings:
    return ExecutorSettings(paper_state_path=directory / "paper_venue.json")


class ExecutorProcess:
    name = "executor"

    def __init__(self, settings: ExecutorSettings, feed: SimFeed) -> None:
        self.settings = settings
        self._feed = feed
        self.up = False
        self.downtime_calls = 0
        self.driver: PaperDriver | None = None
        self.servicer: ExecutorServicer | None = None

    async def restart(self) -> None:
        settings = self.settings
        market_data = FeedMarketData(
            self._feed,  # type: ignore[arg-type]
            FeedClock(self._feed, max_age_seconds=settings.feed_clock_max_age_seconds),  # type: ignore[arg-type]
            markets_ttl_seconds=0,  # the wall-clock cache would make replays differ
        )
        driver = PaperDriver(
            market_data, StateFile(settings.paper_state_path),
            start_usdc=settings.paper_start_usdc, start_sol=settings.paper_start_sol,
            slippage_scale=settings.slippage_scale_usd,
            taker_fee_rate=settings.paper_taker_fee_rate,
            max_leverage=settings.paper_max_leverage,
        )
        await driver.start()  # loads the state file before serving a single call
        self.driver, self.servicer = driver, ExecutorServicer(driver)
        self.up, self.downtime_calls = True, 0

    async def crash(self, downtime_calls: int) -> None:
        self.up, self.downtime_calls = False, downtime_calls
        self.driver = self.servicer = None


class EngineLife:
    """One life of the engine process: its links die with it."""

    name = "engine"

    def __init__(self, on_crash: Callable[[], None]) -> None:
        self.alive = True
        self._on_crash = on_crash

    def crash(self) -> None:
        if self.alive:
            self.alive = False
            self._on_crash()


class EngineProcess:
    name = "engine"

    def __init__(self, *, settings: EngineSettings, network: Network, feed: SimFeed,
                 executor: ExecutorProcess, vault: VaultProcess, clock: ManualClock,
                 events: list[Seen], moment: Callable[[], int], trace: list[str]) -> None:
        self.settings = settings
        self._network = network
        self._feed = feed
        self._executor = executor
        self._vault = vault
        self._clock = clock
        self._events = events
        self._moment = moment
        self._trace = trace
        self.life: EngineLife | None = None
        self.engine: FundingEngine | None = None
        self.servicer: EngineServicer | None = None
        self.crashes = 0
        self._origin = clock.now()

    @property
    def alive(self) -> bool:
        return self.life is not None and self.life.alive

    def boot(self) -> None:
        """A fresh process: new memory, new links; nothing of the last life but its files."""
        life = EngineLife(self._crashed)
        network = self._network
        engine = FundingEngine(
            self.settings, self._feed,  # type: ignore[arg-type]
            network.link(life, self._executor),  # type: ignore[arg-type]
            network.link(life, self._vault),  # type: ignore[arg-type]
            sleep=self._virtual_sleep, monotonic=self._virtual_monotonic,
            bus=RecordingBus(self._events, self._moment),
        )
        self.life, self.engine, self.servicer = life, engine, EngineServicer(engine)

    def kill(self) -> None:
        if self.life is not None:
            self.life.crash()

    def _crashed(self) -> None:
        self.crashes += 1
        self._trace.append("  engine crashed: its memory is gone")

    async def _virtual_sleep(self, seconds: float) -> None:
        self._clock.advance(seconds)
        await _yield()

    def _virtual_monotonic(self) -> float:
        return (self._clock.now() - self._origin).total_seconds()


async def _yield() -> None:
    await asyncio.sleep(0)
