"""REST routes: market data (public, rate limited), config, status (token), health, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from dne.engine.v1 import engine_pb2
from dne.feed.v1 import feed_pb2
from services.common.errors import ErrorCode
from services.common.probe_cache import ProbeCache
from services.gateway import schemas, wire
from services.gateway.auth import bearer_scheme, require_token, token_matches
from services.gateway.clients import BackendClients
from services.gateway.errors import ApiError, responses
from services.gateway.fanout import EventFanout
from services.gateway.markets import MarketDirectory
from services.gateway.rate_limits import (
    SIGNED_IN,
    RateLimits,
    client_key,
    describe,
    retry_after_header,
)
from services.gateway.rendered_table import RenderedTable
from services.gateway.settings import GatewaySettings

MARKET_PATTERN = r"^[A-Za-z0-9]{1,20}-(PERP|perp)$"


def _version() -> str:
    try:
        return metadata.version("delta-neutral-engine")
    except metadata.PackageNotFoundError:
        return "0.1.0"


VERSION = _version()


class HealthSummary(BaseModel):
    """What /health tells a caller without the token (a probe, a load balancer)."""

    status: Literal["healthy", "degraded"]


class HealthCache(ProbeCache[dict[str, Any]]):
    """One probe of the backends shared by every /health request (single flight), kept
    `healthy_seconds`, or `degraded_seconds` when something did not serve, unless a channel to
    the feed or the engine changes state first. The engine keeps its own probe of the executor
    and the vault about a second and takes it again when its channel to either changes."""

    def __init__(
        self, probe: Callable[[], Awaitable[dict[str, Any]]], *,
        healthy_seconds: float, degraded_seconds: float,
        channel_states: Callable[[], Sequence[object]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            probe, channel_states=channel_states, clock=clock,
            keep_seconds=lambda body: (healthy_seconds if body["status"] == "healthy"
                                       else degraded_seconds))


@dataclass
class Gateway:
    """Everything a request handler needs, built once by create_app."""

    settings: GatewaySettings
    clients: BackendClients
    limits: RateLimits
    markets: MarketDirectory
    fanout: EventFanout
    health: HealthCache = field(init=False)
    rendered_markets: RenderedTable = field(default_factory=RenderedTable)

    def __post_init__(self) -> None:
        channels = self.clients.channels
        self.health = HealthCache(
            lambda: _health(self),
            healthy_seconds=self.settings.health_cache_sec,
            degraded_seconds=self.settings.health_cache_degraded_sec,
            channel_states=lambda: [channel.get_state() for channel in channels])


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def gateway(request: Request) -> Gateway:
    # A coroutine: FastAPI would run a plain function in its thread pool, two thread hand-offs
    # on every request.
    return gateway_of(request)


GatewayDep = Annotated[Gateway, Depends(gateway)]


def _rate_key(request: Request, api_token: str) -> str:
    """SIGNED_IN with a valid token, so callers without one (who may share the user's address,
    an ingress's when TRUSTED_PROXIES is unset) cannot use up the user's budget; else the
    client address."""
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token_matches(offered.strip(), api_token):
        return SIGNED_IN
    return client_key(request.client.host if request.client else None)


def rate_limited(
    bucket: str, pick: Callable[[RateLimits], Any]
) -> Callable[..., Awaitable[None]]:
    async def check(request: Request) -> None:
        gw = gateway_of(request)
        item = pick(gw.limits)
        wait = await gw.limits.retry_after(item, bucket,
                                           _rate_key(request, gw.settings.api_token))
        if wait is not None:
            raise ApiError(
                429, ErrorCode.RATE_LIMITED,
                f"too many requests: at most {describe(item)} per client; "
                f"retry in {retry_after_header(wait)} s",
                {"retry_after_seconds": round(wait, 3)},
                headers={"Retry-After": retry_after_header(wait)})

    return check


markets_limit = Depends(rate_limited("markets", lambda limits: limits.markets))
api_limit = Depends(rate_limited("api", lambda limits: limits.api))
health_limit = Depends(rate_limited("health", lambda limits: limits.health))


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/drift/markets", response_model=schemas.MarketsResponse,
                dependencies=[markets_limit], responses=responses(422, 429, 503),
                summary="Funding markets, highest APR first")
    async def markets(gw: GatewayDep, include_untradable: bool = False) -> Response:
        reply = await gw.markets.table(include_untradable)
        return Response(gw.rendered_markets.body(include_untradable, reply),
                        media_type="application/json")

    @router.get("/api/drift/markets/{symbol}/funding",
                response_model=schemas.FundingHistoryResponse, dependencies=[api_limit],
                responses=responses(404, 422, 429, 503),
                summary="Hourly funding history ending at the market clock's now")
    async def funding(
        gw: GatewayDep,
        symbol: Annotated[str, Path(pattern=MARKET_PATTERN, max_length=25)],
        hours: Annotated[int, Query(ge=1, le=2000)] = 168,
    ) -> dict[str, Any]:
        market = symbol.upper()
        records = await gw.markets.history(market, hours)
        return {"market": market, "records": [wire.funding_record(r) for r in records]}

    @router.get("/api/config", response_model=schemas.ConfigResponse, dependencies=[api_limit],
                responses=responses(429))
    async def config(gw: GatewayDep) -> dict[str, Any]:
        settings = gw.settings
        venue = settings.venue()
        return {"mode_label": settings.mode_label, "venue": venue.display_name,
                "quote_symbol": venue.quote_symbol,
                "confirm_above_usd": settings.confirm_above_usd,
                "confirm_timeout_sec": settings.confirm_timeout_sec,
                "hedge_market": settings.hedge_market, "version": VERSION}

    @router.get("/api/status", response_model=schemas.StatusResponse,
                dependencies=[Depends(require_token), api_limit],
                responses=responses(401, 429, 503))
    async def status(gw: GatewayDep) -> dict[str, Any]:
        timeout = gw.settings.backend_timeout_sec
        try:
            reply = await gw.clients.engine.GetEngineStatus(
                engine_pb2.GetEngineStatusRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise ApiError(503, ErrorCode.ENGINE_UNAVAILABLE,
                           f"the engine did not answer within {timeout:g} s") from error
        snapshot = (wire.funding_update(reply.snapshot)
                    if reply.status.running and reply.HasField("snapshot") else None)
        return {"engine": wire.engine_status(reply.status), "snapshot": snapshot}

    @router.get("/health", response_model=schemas.HealthResponse | HealthSummary,
                dependencies=[health_limit],
                responses={**responses(401, 429),
                           503: {"model": schemas.HealthResponse | HealthSummary,
                                 "description": "A backend service is not serving"}},
                summary="healthy or degraded; each backend's state with the token",
                # The token is optional here: a probe sends none and gets the status alone.
                openapi_extra={"security": [{}, {"HTTPBearer": []}]})
    async def health(gw: GatewayDep, request: Request) -> JSONResponse:
        credentials = await bearer_scheme(request)
        if credentials is not None and not token_matches(credentials.credentials,
                                                         gw.settings.api_token):
            raise ApiError(401, ErrorCode.UNAUTHORIZED,
                           "wrong token: send 'Authorization: Bearer <token>' for the details, "
                           "or no Authorization header for the status alone",
                           headers={"WWW-Authenticate": "Bearer"})
        body = await gw.health.get()
        code = 200 if body["status"] == "healthy" else 503
        if credentials is None:
            return JSONResponse({"status": body["status"]}, status_code=code)
        return JSONResponse(body, status_code=code)

    @router.get("/metrics", response_class=Response,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                                 "description": "Prometheus text format"}})
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _serving(gw: Gateway, name: str) -> str:
    try:
        reply = await gw.clients.health[name].Check(
            health_pb2.HealthCheckRequest(service=""), timeout=gw.settings.backend_timeout_sec)
    except grpc.aio.AioRpcError:
        return "UNAVAILABLE"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def _optional(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except grpc.aio.AioRpcError:
        return None


async def _health(gw: Gateway) -> dict[str, Any]:
    timeout = gw.settings.backend_timeout_sec
    clients = gw.clients
    (feed, engine, table, engine_status, backends) = await asyncio.gather(
        _serving(gw, "feed"), _serving(gw, "engine"),
        _optional(clients.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest(),
                                                  timeout=timeout)),
        _optional(clients.engine.GetEngineStatus(engine_pb2.GetEngineStatusRequest(),
                                                 timeout=timeout)),
        # The executor and the vault as the engine reaches them: the gateway has no channel
        # to either. No answer from the engine: neither is known to serve.
        _optional(clients.engine.GetBackendHealth(engine_pb2.GetBackendHealthRequest(),
                                                  timeout=timeout)),
    )
    executor = backends.executor if backends is not None else "UNAVAILABLE"
    vault = backends.vault if backends is not None else "UNAVAILABLE"
    venue = backends.venue if backends is not None else None
    engines = {
        "feed": {"status": feed,
                 "data_age_seconds": table.data_age_seconds if table is not None else None},
        "engine": {"status": engine,
                   "running": engine_status.status.running if engine_status else None,
                   "mode": engine_status.status.mode if engine_status else None,
                   "events": "following" if gw.fanout.connected else "reconnecting"},
        "executor": {"status": executor},
        "vault": {"status": vault},
        "venue": {"connected": bool(venue and venue.connected),
                  "venue": venue.venue if venue else "",
                  "latency_ms": venue.latency_ms if venue else 0.0},
    }
    serving = all(status == "SERVING" for status in (feed, engine, executor, vault))
    healthy = serving and engines["venue"]["connected"]
    return {"status": "healthy" if healthy else "degraded", "engines": engines}
