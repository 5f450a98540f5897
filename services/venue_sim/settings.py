"""The stand-in's settings, read from the environment and checked at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from solders.pubkey import Pubkey

from services.common.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_ACCOUNTS = DEFAULT_DATA_DIR / "drift" / "mainnet_account_snapshots.json"


class VenueSimSettings(ServiceSettings):
    """PORT is the JSON-RPC port (0: a free one); the WebSocket listens on PORT + 1, where
    driftpy's get_ws_url looks for it."""

    dne_sim_accounts: Path = Field(default=DEFAULT_ACCOUNTS, description="Recorded accounts.")
    dne_data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Recorded Drift data.")
    sim_paused: bool = Field(default=False, description="Serve a State whose exchange is paused.")
    sim_wallets: list[str] = Field(
        default_factory=list, description="Public keys given SOL, USDC and a Drift User at start."
    )
    venue_profile: str = Field(default="drift", pattern=r"^[a-z][a-z0-9_-]*$",
                               description="config/venues/<name>.toml: program id, IDL, quote.")
    venue_profile_file: Path | None = Field(default=None, description="A profile file instead.")
    sim_genesis_hash: str = Field(default="", pattern=r"^([1-9A-HJ-NP-Za-km-z]{32,44})?$",
                                  description="getGenesisHash's answer; default the profile's.")
    data_api_port: int = Field(default=0, ge=0, le=65535)
    sim_oracle_keeper_sec: float = Field(
        default=0.0, ge=0, le=60,
        description="Re-post fresh oracles every this many seconds (0: never).")
    swap_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("port")
    @classmethod
    def _room_for_websocket(cls, value: int) -> int:
        if value == 65535:
            raise ValueError("the WebSocket needs PORT + 1: choose a port below 65535")
        return value

    @field_validator("sim_wallets")
    @classmethod
    def _public_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            try:
                Pubkey.from_string(key)
            except ValueError:
                raise ValueError(f"{key[:60]!r} is not a base58 public key") from None
        return value
