"""The executor's settings, from the environment (names without prefix)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field

from services.common.settings import MoneyPathSettings
from services.executor.drift.venue_rules import ORACLE_MAX_STALE_SLOTS

REPO_ROOT = Path(__file__).resolve().parents[2]


class ExecutorSettings(MoneyPathSettings):
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

    # --- the live driver (EXECUTOR_DRIVER=drift). The wallet key itself is not a setting: the
    # app reads it once and hands it to the driver alone (see drift/wallet_key.py), from this
    # file when set (the Helm chart mounts the Secret here, mode 0400), else from
    # SOLANA_PRIVATE_KEY. A file others can read is refused; only the path is ever shown.
    solana_private_key_file: Path | None = None
    rpc_url: str = ""
    venue_profile: str = Field(default="drift", pattern=r"^[a-z][a-z0-9_-]*$")
    venue_profile_file: Path | None = None
    drift_sub_account: int = Field(default=0, ge=0, le=65535)
    swap_api_url: str = ""  # empty: the profile's swap_api_url
    live_trading_confirmed: bool = False
    live_state_path: Path = REPO_ROOT / "var" / "live_orders.json"
    # Property 14: price limit = oracle * (1 +/- S) when the caller gives none.
    live_slippage_tolerance: Decimal = Field(default=Decimal("0.005"), gt=0, le=Decimal("0.1"))
    live_swap_slippage_bps: int = Field(default=50, ge=1, le=1000)
    # An oracle more than this many slots (400 ms each) behind the RPC's slot is stale, and its
    # age is reported as latency in ms: 2 slots keeps it within the 300 ms kill-switch's terms.
    oracle_max_stale_slots: int = Field(default=ORACLE_MAX_STALE_SLOTS, ge=0, le=150)
    # How long an order call waits before answering PENDING; confirmation goes on behind it.
    live_answer_within_seconds: float = Field(default=4.0, gt=0, le=120)
    # How long a placed market order may wait for its fill (its max_ts on chain).
    live_fill_wait_seconds: float = Field(default=20.0, gt=0, le=300)
    # Properties 41-42: wait 30 s for confirmation, then ask every 5 s for 60 s more, then the
    # order is UNKNOWN. Shorter only for tests of the path itself.
    confirm_wait_seconds: float = Field(default=30.0, gt=0, le=120)
    confirm_poll_seconds: float = Field(default=5.0, gt=0, le=60)
    confirm_poll_total_seconds: float = Field(default=60.0, gt=0, le=300)
    # An order a previous run left PENDING or UNKNOWN is looked up this often until final.
    live_recheck_seconds: float = Field(default=5.0, gt=0, le=300)
