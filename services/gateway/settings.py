"""Gateway settings from the environment, validated at start (a short token refuses to boot)."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cache
from pathlib import Path

import limits
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.grpc_tls import check_all_or_none
from services.common.venue_profile import VenueProfile, load_profile

REPO_ROOT = Path(__file__).resolve().parents[2]
_load_profile = cache(load_profile)
MIN_TOKEN_LENGTH = 16
MODE_LABELS = ("PAPER", "LIVE", "LIVE (SIMULATED VENUE)")


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("GATEWAY_HOST", "HOST"))
    # The launcher sets PORT (0 in tests: a free port); GATEWAY_PORT is the user's name for it.
    port: int = Field(default=8000, ge=0, le=65535,
                      validation_alias=AliasChoices("PORT", "GATEWAY_PORT"))
    api_token: str = Field(default_factory=lambda: secrets.token_urlsafe(32),
                           validation_alias="DNE_API_TOKEN", repr=False)
    feed_address: str = "127.0.0.1:50051"
    engine_address: str = "127.0.0.1:50054"
    # Mutual TLS to the feed and the engine (services/common/grpc_tls.py): all three, or none.
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_ca_file: Path | None = None
    mode_label: str = "PAPER"
    # The venue the dashboard names beside a LIVE label, with its quote asset (USDC, USDT).
    venue_profile: str = Field(default="drift", pattern=r"^[a-z][a-z0-9_-]*$")
    venue_profile_file: Path | None = None
    # Host names the gateway answers to (a request for another, as after a DNS rebinding, is
    # refused 400), comma separated, "*.example.com" allowed; the bind address is added.
    allowed_hosts: str = "127.0.0.1,localhost"
    # Origins whose pages may open the WebSocket besides the gateway's own (Origin equal to
    # http(s)://<Host>), comma separated, e.g. "https://dne.example.com".
    allowed_origins: str = ""
    # Addresses or networks of the reverse proxies in front (an ingress), comma separated, e.g.
    # "10.0.0.0/8". Only a request whose peer is one of them is counted against the rate limits
    # as the X-Forwarded-For client (the right-most address that is not itself a proxy).
    # Empty: the peer is the client, whatever the headers say.
    trusted_proxies: str = ""
    frontend_dir: Path = REPO_ROOT / "frontend"
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    otel_exporter_otlp_endpoint: str | None = None
    # Share of HTTP reads that start a trace when spans are exported; every command is traced
    # (services/common/trace_policy.py).
    trace_read_ratio: float = Field(default=0.1, ge=0, le=1)
    log_format: str = Field(default="json", pattern="^(json|text)$")

    # design.md "Rate limiting"; strings in the `limits` notation ("10/minute").
    # REST: per client IP, or all together for requests with the token (rate_limits.py).
    rate_limit_markets: str = "10/minute"        # GET /api/drift/markets
    rate_limit_api: str = "1000/minute"          # every other /api route
    rate_limit_ws_commands: str = "5/second"     # WebSocket frames, per connection
    rate_limit_position_ops: str = "10/minute"   # open, close, settle, swap: the account's
    # GET /health: a probe asks every few seconds, a watching script a few times a second; a
    # flood is answered 429 before it costs anything.
    rate_limit_health: str = "30/second"

    # What the dashboard shows; the engine enforces the confirmation itself.
    confirm_above_usd: int = 100
    confirm_timeout_sec: int = 30
    hedge_market: str = "SOL-PERP"

    backend_timeout_sec: float = Field(default=2.0, gt=0, le=30)   # feed, status, health calls
    command_timeout_sec: float = Field(default=4.5, gt=0, le=30)   # property 39: answer in 5 s
    market_cache_sec: float = Field(default=60.0, ge=0)
    # /health is answered from one shared probe of the feed and the engine (five calls, the
    # engine's GetBackendHealth among them), taken again after this long when everything
    # served, sooner while something did not (a restarted backend shows healthy within a
    # quarter second), and at once when the channel to the feed or the engine changes state.
    # The engine keeps its own answer for the executor and the vault about a second.
    health_cache_sec: float = Field(default=2.0, ge=0, le=60)
    health_cache_degraded_sec: float = Field(default=0.25, ge=0, le=60)
    ws_queue_size: int = Field(default=256, ge=1, le=100_000)
    ws_max_frame_bytes: int = Field(default=16 * 1024, ge=256)

    @property
    def token_generated(self) -> bool:
        """True when DNE_API_TOKEN was not set: the gateway made the token for this run."""
        return "api_token" not in self.model_fields_set

    @property
    def trusted_hosts(self) -> list[str]:
        hosts = [host.strip().lower() for host in self.allowed_hosts.split(",") if host.strip()]
        if self.host and self.host.lower() not in hosts:
            hosts.append(self.host.lower())
        return hosts

    @property
    def trusted_origins(self) -> frozenset[str]:
        return frozenset(origin.strip().rstrip("/").lower()
                         for origin in self.allowed_origins.split(",") if origin.strip())

    @property
    def trusted_proxy_networks(self) -> list[str]:
        return [entry.strip() for entry in self.trusted_proxies.split(",") if entry.strip()]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                # A host name or "*" would be matched literally or trust every peer.
                raise ValueError(f"TRUSTED_PROXIES takes IP addresses or CIDRs, not {entry!r}"
                                 ) from None
        return value

    @field_validator("api_token")
    @classmethod
    def _token_long_enough(cls, value: str) -> str:
        if len(value.strip()) < MIN_TOKEN_LENGTH:
            # The value itself never goes into the message.
            raise ValueError(f"DNE_API_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
        return value.strip()

    @model_validator(mode="after")
    def _tls_all_or_none(self) -> GatewaySettings:
        check_all_or_none(self)
        return self

    @model_validator(mode="after")
    def _profile_loads(self) -> GatewaySettings:
        self.venue()  # an unknown profile refuses to boot, as in the other services
        return self

    def venue(self) -> VenueProfile:
        return _load_profile(self.venue_profile, self.venue_profile_file)

    @field_validator("mode_label")
    @classmethod
    def _known_label(cls, value: str) -> str:
        if value not in MODE_LABELS:
            raise ValueError(f"MODE_LABEL must be one of {MODE_LABELS}")
        return value

    @field_validator("rate_limit_markets", "rate_limit_api", "rate_limit_ws_commands",
                     "rate_limit_position_ops", "rate_limit_health")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            limits.parse(value)
        except ValueError as error:
            raise ValueError(f"not a rate limit like '10/minute': {value!r}") from error
        return value
