"""Response models of the REST API: they document in /openapi.json what the gateway answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class Market(BaseModel):
    symbol: str
    market_index: int
    rate_1h: float | None
    rate_8h: float | None
    apr: float | None
    direction: str
    open_interest: float | None
    volume_24h: float | None
    oracle_price: float | None
    mark_price: float | None
    status: str
    tradable: bool
    not_tradable_reason: str
    rate_source: str
    rate_period_start: str | None
    contract_tier: str


class MarketStats(BaseModel):
    total_oi: float
    volume_24h: float
    avg_funding: float
    avg_apr: float
    market_count: int


class MarketsResponse(BaseModel):
    markets: list[Market]
    stats: MarketStats
    as_of: str | None
    source: str
    data_age_seconds: float
    stale: bool
    model_notes: list[str]


class FundingRecord(BaseModel):
    period_start: str | None
    rate_1h: float | None
    apr: float | None
    source: str


class FundingHistoryResponse(BaseModel):
    market: str
    records: list[FundingRecord]


class ConfigResponse(BaseModel):
    mode_label: str
    venue: str              # the venue profile's display name (Drift, Velocity)
    quote_symbol: str       # its quote asset: what balances and transfers are counted in
    confirm_above_usd: int
    confirm_timeout_sec: int
    hedge_market: str
    version: str


class EngineStatus(BaseModel):
    running: bool
    mode: str
    trading_enabled: bool
    blocked_reason: str
    last_rebalance: str | None
    venue: str
    hedge_market: str
    max_leverage: float | None


class StatusResponse(BaseModel):
    engine: EngineStatus
    snapshot: dict[str, Any] | None


class ComponentHealth(BaseModel):
    status: str
    data_age_seconds: float | None = None
    running: bool | None = None
    mode: str | None = None
    # The engine's only: "following" its event stream, or "reconnecting" to it.
    events: Literal["following", "reconnecting"] | None = None


class VenueHealth(BaseModel):
    connected: bool
    venue: str
    latency_ms: float


class HealthEngines(BaseModel):
    feed: ComponentHealth
    engine: ComponentHealth
    executor: ComponentHealth
    vault: ComponentHealth
    venue: VenueHealth


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded"]
    engines: HealthEngines
