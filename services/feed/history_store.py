"""Imported hourly funding history on disk: one JSON file per market in DNE_IMPORT_DIR.

`dne data import` writes these files; the feed reads them at start and on ReloadHistory.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FORMAT_VERSION = 1


class ImportedHistoryError(RuntimeError):
    """An imported history file cannot be read."""


class StoredFundingRecord(BaseModel):
    """One settled funding hour: period_start covers [period_start, period_start + 1 h)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_start: datetime
    rate_1h: Decimal = Field(allow_inf_nan=False)           # fraction of the oracle TWAP
    oracle_twap: Decimal | None = Field(default=None, allow_inf_nan=False, gt=0)
    mark_twap: Decimal | None = Field(default=None, allow_inf_nan=False, gt=0)

    @field_validator("period_start")
    @classmethod
    def _on_the_hour_in_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("period_start needs a time zone (UTC)")
        value = value.astimezone(UTC)
        if value.minute or value.second or value.microsecond:
            raise ValueError(f"period_start must be on the hour, found {value.isoformat()}")
        return value


class StoredHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    market: str
    market_index: int | None = None
    records: list[StoredFundingRecord]


def history_path(import_dir: Path, market: str) -> Path:
    return import_dir / f"{market}.json"


def read_history(path: Path) -> StoredHistory:
    try:
        return StoredHistory.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        raise ImportedHistoryError(f"imported history {path} is unreadable: {error}") from error


def load_imported(import_dir: Path) -> dict[str, list[StoredFundingRecord]]:
    """Every market's imported hours, sorted; a missing directory means nothing imported."""
    if not import_dir.is_dir():
        return {}
    histories: dict[str, list[StoredFundingRecord]] = {}
    for path in sorted(import_dir.glob("*.json")):
        history = read_history(path)
        histories[history.market] = sorted(history.records, key=lambda r: r.period_start)
    return histories


def merge_records(
    existing: list[StoredFundingRecord], incoming: list[StoredFundingRecord]
) -> list[StoredFundingRecord]:
    """One record per hour; an incoming record replaces the stored one for the same hour."""
    by_hour = {record.period_start: record for record in existing}
    by_hour.update({record.period_start: record for record in incoming})
    return [by_hour[hour] for hour in sorted(by_hour)]


def write_history(import_dir: Path, history: StoredHistory) -> Path:
    """Writes atomically (temp file, then rename) so the feed never reads half a file."""
    import_dir.mkdir(parents=True, exist_ok=True)
    path = history_path(import_dir, history.market)
    payload = json.dumps(json.loads(history.model_dump_json()), indent=1) + "\n"
    handle, temp_name = tempfile.mkstemp(
        dir=import_dir, prefix=f".{history.market}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w") as temp:
            temp.write(payload)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
