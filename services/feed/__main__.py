"""python -m services.feed: the feed on the replay (default) or live Drift source until
SIGTERM."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from services.common.grpc_server import run_service
from services.common.logs import configure_logging
from services.feed.live_source import build_live_market, venue_profile
from services.feed.replay_market import FeedStartError, ReplayMarket
from services.feed.replay_state import ReplayStateFile
from services.feed.servicers import register
from services.feed.settings import FeedSettings


def settings_problems(error: ValidationError) -> str:
    """One line per bad variable, named as in the environment."""
    def line(problem: Any) -> str:
        message = problem["msg"].removeprefix("Value error, ")
        variable = ".".join(str(part) for part in problem["loc"]).upper()
        # a check across variables has no single variable to name
        return f"{variable}: {message}" if variable else message

    return "; ".join(line(problem) for problem in error.errors())


def main() -> int:
    try:
        settings = FeedSettings()
    except ValidationError as error:
        print(f"feed: refusing to start: {settings_problems(error)}", file=sys.stderr)
        return 2
    configure_logging("feed", settings.log_level, settings.log_format)
    if settings.feed_source == "drift":
        return run_live(settings)
    try:
        market = ReplayMarket.load(
            settings.dne_data_dir, settings.dne_import_dir,
            start=settings.replay_start, speed=settings.replay_speed,
            lead_in=timedelta(days=settings.replay_lead_in_days),
            state_file=ReplayStateFile(settings.feed_state_path),
        )
    except FeedStartError as error:
        print(f"feed: refusing to start: {error}", file=sys.stderr)
        return 2
    asyncio.run(run_service("feed", settings, register(market)))
    return 0


def run_live(settings: FeedSettings) -> int:
    try:
        profile = venue_profile(settings)
    except ValueError as error:
        print(f"feed: refusing to start: {error}", file=sys.stderr)
        return 2

    async def serve() -> None:
        market = build_live_market(settings, profile)
        warm_ups: list[asyncio.Task[None]] = []

        async def warm_up() -> None:
            # The first read starts with the server but does not hold it back: a slow or down
            # RPC would otherwise delay serving by every retry; calls wait for it instead.
            warm_ups.append(asyncio.create_task(market.refresh_if_due()))

        try:
            await run_service("feed", settings, register(market), on_start=warm_up)
        finally:
            for task in warm_ups:
                task.cancel()
            await market.close()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
