"""The recorded daily averages of Drift's hourly funding (SOL, BTC, ETH; 73 days of 2026)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DAILY_FUNDING_FILE = Path("drift") / "daily_funding_SOL_BTC_ETH_2026.json"


class DailyFundingError(RuntimeError):
    """The daily funding file is missing or malformed."""


class DailyAverage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    date: date
    # Mean over the day of the hourly rate as a fraction of the oracle TWAP.
    avg_rate: Decimal = Field(alias="avgRate", allow_inf_nan=False)


class DailyFundingFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    markets: dict[str, list[DailyAverage]]


def load_daily_funding(data_dir: Path) -> dict[str, dict[date, Decimal]]:
    """{"SOL-PERP": {date: avgRate}}; numbers are read as exact decimals, never floats."""
    path = data_dir / DAILY_FUNDING_FILE
    try:
        document = json.loads(path.read_text(), parse_float=Decimal)
        parsed = DailyFundingFile.model_validate(document)
    except FileNotFoundError:
        raise DailyFundingError(f"daily funding not found at {path}; set DNE_DATA_DIR") from None
    except (OSError, ValueError, ValidationError) as error:
        raise DailyFundingError(f"cannot read daily funding {path}: {error}") from error
    return {
        market: {day.date: day.avg_rate for day in days}
        for market, days in parsed.markets.items()
        if days
    }
