"""Who may command the engine: its reads are open, every other call needs the user's API token;
and the service token it sends the executor and the vault (services/common/service_auth.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dne.engine.v1 import engine_pb2
from services.common.service_auth import (
    BearerTokenInterceptor,
    TokenError,
    api_token_guard,
    check_token,
    load_service_token,
)
from services.engine.settings import EngineSettings

_SERVICE = engine_pb2.DESCRIPTOR.services_by_name["EngineService"].full_name
# Reads only. A method added later is a command until it is listed here.
OPEN_METHODS = frozenset(
    f"/{_SERVICE}/{name}" for name in ("GetEngineStatus", "StreamEvents", "GetBackendHealth")
)


@dataclass(frozen=True, repr=False)
class EngineTokens:
    api: str        # what callers of the engine's commands must send
    service: str    # what the engine sends the executor and the vault

    @classmethod
    def load(cls, settings: EngineSettings) -> EngineTokens:
        """Both tokens, or TokenError naming what is missing (never the value)."""
        if not settings.api_token:
            raise TokenError("DNE_API_TOKEN is not set: the engine's commands need the same "
                             "token as the gateway (`make run` makes one per run)")
        return cls(api=check_token(settings.api_token, "DNE_API_TOKEN"),
                   service=load_service_token(settings))

    def guard(self) -> BearerTokenInterceptor:
        return api_token_guard(self.api, OPEN_METHODS)
