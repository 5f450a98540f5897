"""POST /api/backtest: the engine's BacktestService for the dashboard, as a stream of JSON lines
(progress, then the report); the browser cancels by dropping the request, which cancels the
gRPC call and so the engine's worker. A refusal before the first line is a plain JSON error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dne.backtest.v1 import backtest_pb2 as B
from services.common.errors import ERROR_CODE_METADATA, ErrorCode
from services.gateway.auth import require_token
from services.gateway.errors import ApiError, responses
from services.gateway.routes import GatewayDep, api_limit

# A year of every market takes a few seconds; the call gives up well after.
BACKTEST_TIMEOUT_SEC = 600.0
_NUMBER = Field(default="", max_length=32)
_HTTP_STATUS = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 409,
                grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNAUTHENTICATED: 502}


class BacktestRequest(BaseModel):
    """The same options as `dne backtest`; empty fields take its defaults."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["hold", "carry", "rotate"] = "hold"
    start: date = Field(description="first day, UTC")
    end: date = Field(description="the day after the last one, UTC")
    capital: str = _NUMBER
    market: str = Field(default="", max_length=40)
    side: Literal["", "long", "short"] = ""
    size: str = _NUMBER
    markets: list[Annotated[str, Field(max_length=40)]] = Field(default=[], max_length=20)
    leverage: str = _NUMBER
    exit_apr: str = _NUMBER
    min_hold_hours: int = Field(default=0, ge=0, le=10_000)
    switch_margin_apr: str = _NUMBER
    include_held_rates: bool = False
    ungated: bool = False      # past the engine's gates: a what-if
    random_walk: bool = False
    random_walk_seed: int = Field(default=0, ge=0, le=2**31)
    hourly_volatility: str = _NUMBER


def build_backtest_router() -> APIRouter:
    router = APIRouter()

    @router.post("/api/backtest", dependencies=[Depends(require_token), api_limit],
                 responses=responses(400, 401, 409, 422, 429, 503),
                 response_class=StreamingResponse,
                 summary="Run a backtest; JSON lines: progress, then the report")
    async def backtest(body: BacktestRequest, gw: GatewayDep) -> StreamingResponse:
        call = gw.clients.backtest.RunBacktest(
            B.RunBacktestRequest(**body.model_dump(mode="json")), timeout=BACKTEST_TIMEOUT_SEC)
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as error:
            raise _refusal(error) from None
        return StreamingResponse(_lines(call, first), media_type="application/x-ndjson")

    return router


async def _lines(call: Any, first: B.RunBacktestResponse) -> AsyncIterator[str]:
    answer = first
    try:
        while answer is not grpc.aio.EOF:
            yield json.dumps(_frame(answer)) + "\n"
            answer = await call.read()
    except grpc.aio.AioRpcError as error:
        refusal = _refusal(error)
        yield json.dumps({"type": "error", "code": refusal.code,
                          "message": refusal.message}) + "\n"
    finally:
        call.cancel()   # the browser went away (or the stream ended): the worker stops


def _frame(answer: B.RunBacktestResponse) -> dict[str, Any]:
    if answer.HasField("progress"):
        return {"type": "progress", "hours_done": answer.progress.hours_done,
                "hours_total": answer.progress.hours_total}
    return {"type": "result", "report": json.loads(answer.report_json)}


def _refusal(error: grpc.aio.AioRpcError) -> ApiError:
    code = next((str(value) for key, value in (error.trailing_metadata() or ())
                 if key == ERROR_CODE_METADATA), "")
    status = _HTTP_STATUS.get(error.code(), 503)
    if status == 503:
        return ApiError(503, ErrorCode.ENGINE_UNAVAILABLE,
                        f"the engine did not run the backtest ({error.code().name})")
    return ApiError(status, code or error.code().name, error.details() or "")
