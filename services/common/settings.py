"""Settings shared by every service, read from the environment and validated at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.grpc_tls import check_all_or_none


class ServiceSettings(BaseSettings):
    """Fields every service has. Each service subclasses this with its own prefix-free names."""

    # hide_input_in_errors: a value that fails validation (a DATABASE_URL with its password, a
    # key) is never quoted in the error; the messages name the setting and what is wrong.
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    host: str = Field(default="127.0.0.1", description="Address the gRPC server binds to.")
    port: int = Field(default=0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Prometheus /metrics port; unset: none."
    )
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: str = Field(default="json", pattern="^(json|text)$")
    otel_exporter_otlp_endpoint: str | None = None
    shutdown_grace_seconds: float = Field(default=5.0, ge=0, le=120)
    # Mutual TLS (services/common/grpc_tls.py): all three files, or none.
    grpc_tls_cert_file: Path | None = None
    grpc_tls_key_file: Path | None = None
    grpc_tls_ca_file: Path | None = None
    health_port: int | None = Field(
        default=None, ge=0, le=65535,
        description="Plaintext port serving the gRPC health service alone (probes under mTLS).")

    @model_validator(mode="after")
    def _tls_all_or_none(self) -> ServiceSettings:
        check_all_or_none(self)
        return self


class MoneyPathSettings(ServiceSettings):
    """The engine, the executor and the vault: they share the service token (read by
    services/common/service_auth.load_service_token; each main refuses to start without it)."""

    service_token_file: Path | None = Field(
        default=None, description="File holding the service token (0600 or 0400).")
    service_token: str | None = Field(
        default=None, repr=False, description="The service token itself; prefer the file.")
