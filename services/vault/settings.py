"""The vault's settings, from the environment (DATABASE_URL, PORT, ...)."""

from __future__ import annotations

from pydantic import Field, field_validator

from services.common.settings import MoneyPathSettings
from services.vault.database import DEFAULT_DATABASE_URL, driver_url


class VaultSettings(MoneyPathSettings):
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLite file or PostgreSQL; plain sqlite:/// and postgresql:// URLs work.",
        repr=False,  # it may carry the database password
    )
    schema_attempts: int = Field(
        default=5, ge=1, le=60, description="Tries to reach the database at start."
    )

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return driver_url(value)
