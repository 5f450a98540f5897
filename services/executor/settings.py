"""The executor's settings, from the environment (names without prefix)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from services.common.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


class ExecutorSettings(ServiceSettings):
    feed_address: str = Field(default="127.0.0.1:50051", min_length=1)
    executor_driver: Literal["paper", "drift"] = "paper"
    paper_state_path: Path = REPO_ROOT / "var" / "paper_venue.json"
    paper_start_usdc: Decimal = Field(default=Decimal(10_000), ge=0, le=Decimal("1e12"))
    paper_start_sol: Decimal = Field(default=Decimal(1), ge=0, le=Decimal("1e9"))
    slippage_scale_usd: Decimal = Field(default=Decimal(100_000), gt=0, le=Decimal("1e12"))
    paper_taker_fee_rate: Decimal = Field(default=Decimal("0.0002"), ge=0, le=Decimal("0.01"))
    paper_max_leverage: Decimal = Field(default=Decimal(10), gt=0, le=Decimal(100))
    markets_cache_seconds: float = Field(default=5.0, ge=0, le=600)
    # 0: ask the feed's clock on every operation. The replay clock can be set or advanced at
    # any moment (ReplayControl), and a stale "now" would pay a funding hour late.
    feed_clock_max_age_seconds: float = Field(default=0.0, ge=0, le=60)
