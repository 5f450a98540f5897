"""The feed's settings, read from the environment and checked at start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, field_validator

from services.common.settings import ServiceSettings

# The repository root is the parent of services/; the shared data sits next to it.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_IMPORT_DIR = REPO_ROOT / "var" / "history"
# A day of market time per wall second is already far beyond any useful replay.
MAX_REPLAY_SPEED = 86_400.0

AVAILABLE_SOURCES = ("replay",)


class FeedSettings(ServiceSettings):
    feed_source: str = Field(default="replay", description="Market data source: replay.")
    replay_speed: float = Field(
        default=60.0, gt=0, le=MAX_REPLAY_SPEED,
        description="Market seconds per wall second (60: one funding hour per wall minute).",
    )
    replay_start: datetime | None = Field(
        default=None, description="Market time the replay starts at; unset: first recorded day."
    )
    dne_data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="Recorded Drift data.")
    dne_import_dir: Path = Field(
        default=DEFAULT_IMPORT_DIR, description="Hourly history written by `dne data import`."
    )

    @field_validator("feed_source")
    @classmethod
    def _only_available_sources(cls, value: str) -> str:
        source = value.strip().lower()
        if source not in AVAILABLE_SOURCES:
            raise ValueError(
                f"{value!r} is not available: only 'replay' (recorded Drift data) "
                "is implemented; the live Drift source arrives in a later issue"
            )
        return source

    @field_validator("replay_start")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A bare date-time in the environment means UTC, like every time in the data.
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
