"""python -m services.venue_sim: the Solana RPC, Drift Data API and swap stand-ins until SIGTERM.

Prints "venue_sim listening on host:port" for the JSON-RPC (the launcher reads it), then the
WebSocket, Data API and swap URLs on the following lines.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from pydantic import ValidationError
from solders.pubkey import Pubkey

from services.common.logs import configure_logging
from services.common.venue_profile import load_profile
from services.venue_sim.accounts import SnapshotError
from services.venue_sim.oracle_keeper import keep_oracles_fresh
from services.venue_sim.server import start_venue_sim
from services.venue_sim.settings import VenueSimSettings
from services.venue_sim.venue import Venue


async def serve(settings: VenueSimSettings, venue: Venue) -> None:
    running = await start_venue_sim(
        venue, settings.dne_data_dir, settings.host, settings.port,
        settings.data_api_port, settings.swap_port,
    )
    print(f"venue_sim listening on {running.host}:{running.rpc_port}", flush=True)
    print(f"venue_sim websocket {running.ws_url}", flush=True)
    print(f"venue_sim data api {running.data_api_url}", flush=True)
    print(f"venue_sim swap api {running.swap_url}", flush=True)
    keeper = (asyncio.create_task(keep_oracles_fresh(venue, settings.sim_oracle_keeper_sec))
              if settings.sim_oracle_keeper_sec > 0 else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if keeper is not None:
        keeper.cancel()
    await running.stop()


def main() -> int:
    try:
        settings = VenueSimSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors()
        )
        print(f"venue_sim: refusing to start: {problems}", file=sys.stderr)
        return 2
    configure_logging("venue_sim", settings.log_level, settings.log_format)
    try:
        profile = load_profile(settings.venue_profile, settings.venue_profile_file)
        venue = Venue.from_file(
            settings.dne_sim_accounts, profile=profile, paused=settings.sim_paused,
            wallets=tuple(Pubkey.from_string(key) for key in settings.sim_wallets),
            genesis_hash=settings.sim_genesis_hash,
        )
    except (SnapshotError, ValueError) as error:
        print(f"venue_sim: refusing to start: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(settings, venue))
    return 0


if __name__ == "__main__":
    sys.exit(main())
