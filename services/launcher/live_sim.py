"""`make run-live-sim`: the whole system in live mode against the project's local stand-ins.

The stand-ins speak Solana JSON-RPC, the Data API and the swap API and serve recorded real Drift
accounts; the services run exactly as they would against a real RPC URL. The wallet is a
throwaway keypair made for this run and funded by the stand-in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from solders.keypair import Keypair

from services.common.venue_profile import VenueProfile, load_profile
from services.launcher.ports import free_port, free_port_pair

MODE_LABEL = "LIVE (SIMULATED VENUE)"
# Not mainnet's genesis: the stand-in is not mainnet, so no mainnet confirmation is needed.
SIM_GENESIS_HASH = "DNEsimu1atedVenue11111111111111111111111111"


def write_key_file(var: Path, wallet: Keypair) -> Path:
    """The run's throwaway key in var/wallet/, readable by this user alone."""
    directory = var / "wallet"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "solana-key"
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(str(wallet))
    return path


def environment_profile() -> VenueProfile:
    """The profile the services will load (VENUE_PROFILE or VENUE_PROFILE_FILE)."""
    return load_profile(os.environ.get("VENUE_PROFILE") or "drift",
                        os.environ.get("VENUE_PROFILE_FILE") or None)


def live_sim_env(var: Path, rpc_port: int | None = None,
                 profile: VenueProfile | None = None) -> dict[str, dict[str, str]]:
    """Per-service settings that point every service at the stand-ins (the profile's venue)."""
    profile = profile or environment_profile()
    rpc_port = rpc_port or free_port_pair()
    data_api_port, swap_port = free_port(), free_port()
    wallet = Keypair()
    rpc_url = f"http://127.0.0.1:{rpc_port}"
    return {
        "venue_sim": {
            "PORT": str(rpc_port),
            "DATA_API_PORT": str(data_api_port),
            "SWAP_PORT": str(swap_port),
            "SIM_WALLETS": json.dumps([str(wallet.pubkey())]),
            "SIM_GENESIS_HASH": SIM_GENESIS_HASH,
            # Oracles that post like real ones (every slot or so), so the staleness gate (more than
            # 2 slots behind) sees a working venue.
            "SIM_ORACLE_KEEPER_SEC": "0.4",
        },
        "feed": {
            "FEED_SOURCE": "drift",
            "RPC_URL": rpc_url,
            # The stand-in's Data API, for a venue that has one (Velocity publishes none: its
            # history comes by import only, as on the real venue).
            "DATA_API_URL": f"http://127.0.0.1:{data_api_port}" if profile.data_api_url else "",
        },
        "executor": {
            "EXECUTOR_DRIVER": "drift",
            "RPC_URL": rpc_url,
            # The throwaway key goes to the executor only, as a real one would: as a file only
            # its owner reads, never an environment variable (/proc/<pid>/environ keeps one).
            "SOLANA_PRIVATE_KEY_FILE": str(write_key_file(var, wallet)),
            "SWAP_API_URL": f"http://127.0.0.1:{swap_port}",
            "LIVE_STATE_PATH": str(var / "live_orders.json"),
        },
        "gateway": {"MODE_LABEL": MODE_LABEL},
    }
