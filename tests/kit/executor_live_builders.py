"""Builders for the live driver's tests: the venue stand-in with a chain clock the test moves,
a fast clock for the driver's waits, and a DriftDriver on the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from solders.hash import Hash
from solders.keypair import Keypair

from services.common.venue_profile import VenueProfile, load_profile
from services.executor.drift.confirmation import ConfirmTiming
from services.executor.drift.driver import DriftDriver, DriverTiming
from services.executor.drift.order_log import OrderLog
from services.executor.drift.wallet_key import WalletKey
from services.venue_sim import rpc as sim_rpc
from services.venue_sim.accounts import build_store
from services.venue_sim.chain import Chain
from services.venue_sim.server import RunningVenueSim, start_venue_sim
from services.venue_sim.settings import DEFAULT_DATA_DIR
from services.venue_sim.venue import Venue
from tests.kit.venue_sim_builders import WALLET_LAMPORTS, WALLET_USDC, recorded_records

# What the stand-in reports as its genesis hash: not mainnet's (32 bytes, as a hash is).
SIM_GENESIS = str(Hash(hashlib.sha256(b"dne venue stand-in").digest()))


class FastTime:
    """Monotonic time that only moves when the driver sleeps: 90 s of waiting in a blink."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ManualChainClock:
    """The stand-in chain's clock: slots and blockhash expiry move when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class WallClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 9, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class LiveRig:
    sim: RunningVenueSim
    wallet: Keypair
    chain_clock: ManualChainClock
    time: FastTime
    profile: VenueProfile

    @property
    def venue(self) -> Venue:
        return self.sim.venue

    def driver(self, state_path: Path | None = None, **overrides: Any) -> DriftDriver:
        timing = overrides.pop("timing", None) or DriverTiming(
            confirm=ConfirmTiming(), answer_within=30.0, fill_wait=20.0,
            retry_delays=(1.0, 2.0, 4.0), reconnect_every=10.0)
        options: dict[str, Any] = {
            "rpc_url": self.sim.rpc_url, "wallet": WalletKey(self.wallet),
            "profile": self.profile, "sub_account": 0, "swap_api_url": self.sim.swap_url,
            "order_log": OrderLog(state_path), "timing": timing, "clock": WallClock(),
            "sleep": self.time.sleep, "monotonic": self.time.monotonic,
        }
        options.update(overrides)
        return DriftDriver(**options)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.sim.rpc_url) as http:
            answer = await http.post(path, json=body)
            answer.raise_for_status()
            return answer.json()


def _serve_genesis_if_missing(genesis: str) -> None:
    """The stand-in answers getGenesisHash (SIM_GENESIS_HASH); older builds of it do not, and
    the driver needs it to tell the cluster from mainnet."""
    if "getGenesisHash" in sim_rpc.METHODS:
        return

    async def get_genesis_hash(venue: Venue, params: list[Any]) -> Any:
        return getattr(venue, "genesis_hash", genesis)

    sim_rpc.METHODS["getGenesisHash"] = get_genesis_hash


def set_genesis(venue: Venue, genesis: str) -> None:
    venue.genesis_hash = genesis  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def live_rig(*, paused: bool = False,
                   profile: VenueProfile | None = None) -> AsyncIterator[LiveRig]:
    """The stand-in serving the profile's venue (Drift's by default) and a funded wallet."""
    _serve_genesis_if_missing(SIM_GENESIS)
    profile = profile or load_profile("drift")
    wallet = Keypair()
    clock = ManualChainClock()
    store = build_store(list(recorded_records()), profile=profile, paused=paused,
                        wallets=[wallet.pubkey()], wallet_usdc=WALLET_USDC,
                        wallet_lamports=WALLET_LAMPORTS)
    venue = Venue(store, Chain(start_slot=405_300_000, clock=clock))
    set_genesis(venue, SIM_GENESIS)
    sim = await start_venue_sim(venue, DEFAULT_DATA_DIR)
    try:
        yield LiveRig(sim, wallet, clock, FastTime(), profile)
    finally:
        await sim.stop()
