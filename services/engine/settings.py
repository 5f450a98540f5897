"""Engine settings from the environment, validated at start: unsafe values refuse to boot."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from services.common.settings import MoneyPathSettings

# Property 4: the venue's own ceiling per mode. MAX_LEVERAGE may only lower it.
MODE_LEVERAGE_LIMITS: dict[str, Decimal] = {"paper": Decimal(10), "live": Decimal(5)}
LAMPORTS_PER_SOL = Decimal(1_000_000_000)


class EngineSettings(MoneyPathSettings):
    feed_address: str = Field(min_length=1, description="host:port of the feed service.")
    executor_address: str = Field(min_length=1, description="host:port of the executor.")
    vault_address: str = Field(min_length=1, description="host:port of the vault.")
    # The user's token (the gateway's DNE_API_TOKEN): the engine's commands need it; its main
    # refuses to start without one (services/engine/guard.py).
    api_token: str | None = Field(default=None, validation_alias="DNE_API_TOKEN", repr=False)

    max_leverage: Decimal | None = Field(
        default=None, gt=0, le=MODE_LEVERAGE_LIMITS["paper"],
        description="Caps the mode's leverage limit (paper 10x, live 5x); never raises it.",
    )
    drift_tolerance_pct: Decimal = Field(default=Decimal("1.0"), gt=0, le=100)
    rebalance_cooldown_sec: float = Field(default=1800, ge=0, le=7 * 24 * 3600)
    min_trade_size_sol: Decimal = Field(default=Decimal("0.005"), gt=0, le=1000)
    reserved_sol: Decimal = Field(default=Decimal("0.017"), ge=0, le=10)
    drift_sub_account: int = Field(default=0, ge=0, le=2**32 - 1)
    tick_interval_sec: float = Field(default=5, gt=0, le=3600)
    vault_retry_delays_sec: str = Field(
        default="1,2,4",
        description="Waits between attempts, comma separated: vault syncs (property 36) and "
                    "resends of an order after a transport error (same client order id).",
    )
    latency_limit_ms: float = Field(default=300, gt=0, le=10_000)
    max_price_age_sec: float = Field(
        default=30, gt=0, le=3600,
        description="A feed price older than this (oracle age) refuses the trade: PRICE_STALE.")
    engine_state_path: str = Field(
        default="", description="JSON file for what decides trades across restarts (the "
                                "rebalance cooldown and backoff); empty: memory only.")
    slippage_tolerance: Decimal = Field(default=Decimal("0.005"), gt=0, le=Decimal("0.1"))
    jito_tip_lamports: int = Field(default=10_000, ge=0, le=100_000_000)
    base_fee_lamports: int = Field(default=5_000, ge=0, le=100_000_000)
    # A carry position is opened to collect funding for weeks, not for one hour: the costs of
    # entering are paid once, the funding every hour it is held. 720 h (30 days) is the horizon
    # over which a carry trade is judged; shorter horizons would refuse every normal-size trade
    # (one hour of funding rarely covers a swap fee), longer ones would assume the rate persists.
    profit_horizon_hours: Decimal = Field(default=Decimal(720), gt=0, le=8760)
    fee_guard_multiple: Decimal = Field(default=Decimal(2), ge=1, le=100)
    confirm_above_usd: Decimal = Field(default=Decimal(100), ge=0)
    confirm_timeout_sec: float = Field(
        default=30, gt=0, le=600,
        description="How long the quote of a trade above CONFIRM_ABOVE_USD can be confirmed; "
                    "its price must also stay within SLIPPAGE_TOLERANCE of the quoted one.")
    hedge_market: str = Field(default="SOL-PERP", pattern=r"^[A-Z0-9]+-PERP$")
    stream_queue_size: int = Field(default=256, ge=1, le=100_000)
    backend_health_cache_sec: float = Field(
        default=1.0, ge=0, le=60,
        description="GetBackendHealth answers from one probe of the executor and the vault "
                    "kept this long (a quarter of it while one does not serve).")

    @field_validator("vault_retry_delays_sec")
    @classmethod
    def _delays_are_sane(cls, value: str) -> str:
        parse_delays(value)
        return value

    @property
    def vault_retry_delays(self) -> tuple[float, ...]:
        return parse_delays(self.vault_retry_delays_sec)

    def leverage_limit(self, mode: str) -> Decimal:
        """The lower of the mode's ceiling and MAX_LEVERAGE."""
        ceiling = MODE_LEVERAGE_LIMITS[mode]
        if self.max_leverage is None:
            return ceiling
        return min(ceiling, self.max_leverage)


def parse_delays(text: str) -> tuple[float, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("VAULT_RETRY_DELAYS_SEC needs at least one delay, e.g. '1,2,4'")
    delays: list[float] = []
    for part in parts:
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f"VAULT_RETRY_DELAYS_SEC: {part!r} is not a number") from None
        if not 0 <= delay <= 60 or delay != delay:
            raise ValueError(f"VAULT_RETRY_DELAYS_SEC: {part!r} must be between 0 and 60 s")
        delays.append(delay)
    if len(delays) > 10:
        raise ValueError("VAULT_RETRY_DELAYS_SEC: at most 10 retries")
    return tuple(delays)
