"""The feed's settings, read from the environment and checked at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from services.common.settings import ServiceSettings

# The repository root is the parent of services/; the recorded data is part of the repository.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_IMPORT_DIR = REPO_ROOT / "var" / "history"
# A day of market time per wall second is already far beyond any useful replay.
MAX_REPLAY_SPEED = 86_400.0

AVAILABLE_SOURCES = ("replay", "drift")


def parse_delays(text: str) -> tuple[float, ...]:
    """"1,2,4" -> (1.0, 2.0, 4.0): the waits between attempts (empty: a single attempt)."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"expected seconds separated by commas like '1,2,4', found {text!r}"
        ) from None
    if any(not 0 <= delay <= 600 for delay in delays):
        raise ValueError(f"each delay must be between 0 and 600 seconds, found {text!r}")
    return delays


class FeedSettings(ServiceSettings):
    feed_source: str = Field(
        default="replay", description="Market data source: replay (recorded) or drift (live)."
    )
    replay_speed: float = Field(
        default=60.0, gt=0, le=MAX_REPLAY_SPEED,
        description="Market seconds per wall second (60: one funding hour per wall minute).",
    )
    replay_start: datetime | None = Field(
        default=None, description="Market time the replay starts at; unset: the first recorded "
        "day, plus REPLAY_LEAD_IN_DAYS."
    )
    replay_lead_in_days: int = Field(
        default=0, ge=0, le=366, description="Days of recorded history behind the replay's "
        "first hour when REPLAY_START is unset (make run: 7, so the charts open with a week)."
    )
    dne_data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Recorded Drift data.")
    feed_state_path: str = Field(
        default="", description="Where the replay keeps its clock and price scenarios across "
        "a restart; empty: in memory only."
    )
    dne_import_dir: Path = Field(
        default=DEFAULT_IMPORT_DIR, description="Hourly history written by `dne data import`."
    )

    # ---- the live source (FEED_SOURCE=drift) ----------------------------------------------
    rpc_url: str = Field(default="", description="Solana JSON-RPC URL of the live source.")
    venue_profile: str = Field(
        default="drift", description="Venue profile in config/venues: program id, IDL, Data API."
    )
    venue_profile_file: Path | None = Field(
        default=None, description="A profile file instead of config/venues/<VENUE_PROFILE>.toml."
    )
    data_api_url: str | None = Field(
        default=None, description="Overrides the profile's data_api_url (funding history)."
    )
    data_api_shape: Literal["auto", "scaled", "legacy"] = Field(
        default="auto",
        description="fundingRates endpoint: scaled (/market/{symbol}/fundingRates), legacy "
        "(/fundingRates?marketName=) or auto (scaled, then legacy).",
    )
    cache_ttl_sec: float = Field(
        default=300.0, gt=0, le=86_400, description="How long a fetched markets table is used."
    )
    price_refresh_sec: float = Field(
        default=3.0, gt=0, le=3600, description="How old oracle prices may get before re-reading."
    )
    rpc_retry_delays_sec: str = Field(
        default="1,2,4", description="Waits between the attempts of one RPC or Data API read."
    )
    rpc_failure_backoff_sec: float = Field(
        default=30.0, ge=0, le=3600,
        description="After a failed refresh, serve the last table this long before trying again.",
    )

    @field_validator("feed_source")
    @classmethod
    def _only_available_sources(cls, value: str) -> str:
        source = value.strip().lower()
        if source not in AVAILABLE_SOURCES:
            raise ValueError(
                f"{value!r} is not available: use 'replay' (recorded Drift data) or 'drift' "
                "(live, from RPC_URL)"
            )
        return source

    @field_validator("rpc_retry_delays_sec")
    @classmethod
    def _delays(cls, value: str) -> str:
        parse_delays(value)
        return value

    @model_validator(mode="after")
    def _live_needs_an_rpc(self) -> FeedSettings:
        if self.feed_source == "drift" and not self.rpc_url.strip():
            raise ValueError("FEED_SOURCE=drift reads the chain: set RPC_URL (Solana JSON-RPC)")
        return self

    @property
    def rpc_retry_delays(self) -> tuple[float, ...]:
        return parse_delays(self.rpc_retry_delays_sec)

    @field_validator("replay_start")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A bare date-time in the environment means UTC, like every time in the data.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
