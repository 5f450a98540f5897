"""Wiring: settings -> feed client -> driver -> servicers, with the run_service hooks."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.grpc_tls import TlsFiles
from services.common.market_clock import FeedClock
from services.common.venue_profile import load_profile
from services.executor.drift.confirmation import ConfirmTiming
from services.executor.drift.driver import DriftDriver, DriverTiming
from services.executor.drift.order_log import OrderLog
from services.executor.drift.wallet_key import WalletKey, WalletKeyError, take_wallet_key
from services.executor.driver import VenueDriver
from services.executor.market_data import FeedMarketData
from services.executor.paper_driver import PaperDriver
from services.executor.paper_state import StateFile
from services.executor.servicer import ExecutorServicer, PaperVenueControlServicer
from services.executor.settings import ExecutorSettings

SERVICE_NAMES = [
    executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"].full_name,
    executor_pb2.DESCRIPTOR.services_by_name["PaperVenueControlService"].full_name,
]


class DriverUnavailableError(RuntimeError):
    pass


def check_driver(settings: ExecutorSettings) -> WalletKey | None:
    """Refuses, before anything starts, a driver that cannot run; answers the live wallet.

    Live mode needs RPC_URL and the key, in SOLANA_PRIVATE_KEY_FILE or SOLANA_PRIVATE_KEY; the
    key is read here, once, and removed from the environment (it then lives in the driver
    alone)."""
    if settings.executor_driver == "paper":
        return None
    if not settings.rpc_url.strip():
        raise DriverUnavailableError(
            "EXECUTOR_DRIVER=drift needs RPC_URL (a Solana JSON-RPC URL) and SOLANA_PRIVATE_KEY")
    try:
        load_profile(settings.venue_profile, settings.venue_profile_file).require_supported()
    except ValueError as error:
        raise DriverUnavailableError(f"VENUE_PROFILE: {error}") from None
    try:
        return take_wallet_key(key_file=settings.solana_private_key_file)
    except WalletKeyError as error:
        raise DriverUnavailableError(f"EXECUTOR_DRIVER=drift: {error}") from None


def build_drift_driver(settings: ExecutorSettings, wallet: WalletKey) -> DriftDriver:
    return DriftDriver(
        rpc_url=settings.rpc_url,
        wallet=wallet,
        profile=load_profile(settings.venue_profile, settings.venue_profile_file),
        sub_account=settings.drift_sub_account,
        swap_api_url=settings.swap_api_url,
        trading_confirmed=settings.live_trading_confirmed,
        order_log=OrderLog(settings.live_state_path),
        slippage_tolerance=settings.live_slippage_tolerance,
        swap_slippage_bps=settings.live_swap_slippage_bps,
        oracle_max_stale_slots=settings.oracle_max_stale_slots,
        timing=DriverTiming(
            answer_within=settings.live_answer_within_seconds,
            fill_wait=settings.live_fill_wait_seconds,
            recheck_every=settings.live_recheck_seconds,
            confirm=ConfirmTiming(wait=settings.confirm_wait_seconds,
                                  poll_every=settings.confirm_poll_seconds,
                                  poll_total=settings.confirm_poll_total_seconds),
        ),
    )


def build_paper_driver(settings: ExecutorSettings, channel: grpc.aio.Channel) -> PaperDriver:
    stub = feed_pb2_grpc.FeedServiceStub(channel)
    market_data = FeedMarketData(
        stub,
        FeedClock(stub, max_age_seconds=settings.feed_clock_max_age_seconds),
        markets_ttl_seconds=settings.markets_cache_seconds,
    )
    return PaperDriver(
        market_data,
        StateFile(settings.paper_state_path),
        start_usdc=settings.paper_start_usdc,
        start_sol=settings.paper_start_sol,
        slippage_scale=settings.slippage_scale_usd,
        taker_fee_rate=settings.paper_taker_fee_rate,
        max_leverage=settings.paper_max_leverage,
    )


class ExecutorApp:
    def __init__(self, settings: ExecutorSettings) -> None:
        self._wallet = check_driver(settings)
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self.driver: VenueDriver | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        if self._wallet is not None:
            live = build_drift_driver(self._settings, self._wallet)
            self._wallet = None  # the driver holds the key from here on
            self.driver = live
            executor_pb2_grpc.add_ExecutorServiceServicer_to_server(ExecutorServicer(live), server)
            executor_pb2_grpc.add_PaperVenueControlServiceServicer_to_server(
                PaperVenueControlServicer(None), server
            )
            return SERVICE_NAMES
        # Called inside the running loop, where a grpc.aio channel must be created.
        self._channel = open_channel(self._settings.feed_address,
                                     tls=TlsFiles.of(self._settings))
        paper = build_paper_driver(self._settings, self._channel)
        self.driver = paper
        executor_pb2_grpc.add_ExecutorServiceServicer_to_server(ExecutorServicer(paper), server)
        executor_pb2_grpc.add_PaperVenueControlServiceServicer_to_server(
            PaperVenueControlServicer(paper), server
        )
        return SERVICE_NAMES

    async def start(self) -> None:
        assert self.driver is not None
        await self.driver.start()

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.close()
        if self._channel is not None:
            await self._channel.close()
