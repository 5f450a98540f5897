"""Wiring: settings -> feed client -> driver -> servicers, with the run_service hooks."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from dne.executor.v1 import executor_pb2, executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from services.common.grpc_client import open_channel
from services.common.market_clock import FeedClock
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


def check_driver(settings: ExecutorSettings) -> None:
    """Refuses, before anything starts, a driver that this build does not have."""
    if settings.executor_driver != "paper":
        raise DriverUnavailableError(
            f"EXECUTOR_DRIVER={settings.executor_driver}: the live Drift driver is not built yet "
            "(it lands in a later issue); only EXECUTOR_DRIVER=paper is available"
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
        check_driver(settings)
        self._settings = settings
        self._channel: grpc.aio.Channel | None = None
        self.driver: VenueDriver | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        # Called inside the running loop, where a grpc.aio channel must be created.
        self._channel = open_channel(self._settings.feed_address)
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
