"""The one error body of the REST API, and the handlers that make every failure answer it.

Never a bare 500: input problems are 4xx, backend trouble is 503, and anything unexpected is
logged and answered 503 INTERNAL (the client can retry; the log says what broke)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.errors import ErrorCode

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str = Field(examples=["FEED_UNAVAILABLE"])
    message: str = Field(examples=["the feed did not answer in 2 s"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """A refusal the API answers as-is: status, stable code, a sentence for humans."""

    def __init__(
        self, status: int, code: str, message: str,
        details: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_response(
    status: int, code: str, message: str,
    details: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details or {}))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


# Documented on every route, so the OpenAPI schema describes what the gateway really answers.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Invalid input", 401: "Missing or wrong token", 404: "Not found",
        409: "Refused by the paper venue (the message says why)",
        422: "Invalid parameters", 429: "Rate limited (see Retry-After)",
        503: "A backend service is unavailable",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}


_STATUS_CODES = {
    400: ErrorCode.INVALID_ARGUMENT, 401: ErrorCode.UNAUTHORIZED, 404: ErrorCode.NOT_FOUND,
    405: ErrorCode.INVALID_ARGUMENT, 422: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.RATE_LIMITED, 503: ErrorCode.INTERNAL,
}


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    first = errors[0] if errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body",))
    problem = str(first.get("msg", "invalid value"))[:200]
    return f"{where or 'request'}: {problem}", {"field": where, "problems": len(errors)}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.details,
                              error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        message, details = _validation_message(list(error.errors()))
        return error_response(422, ErrorCode.INVALID_ARGUMENT, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        status = error.status_code if 400 <= error.status_code < 500 else 503
        code = _STATUS_CODES.get(status, ErrorCode.INVALID_ARGUMENT)
        message = {
            404: f"no such resource: {request.url.path[:100]}",
            405: f"{request.method} is not allowed on {request.url.path[:100]}",
        }.get(status, str(error.detail)[:200])
        return error_response(status, code, message, headers=dict(error.headers or {}))


class CatchAllMiddleware:
    """Turns an exception nobody handled into a 503 INTERNAL body instead of a bare 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log.error("unexpected error answering %s %s", scope.get("method"),
                      scope.get("path"), exc_info=error)
            if started:
                raise
            response = error_response(503, ErrorCode.INTERNAL,
                                      "the gateway could not answer this request; retry later")
            await response(scope, receive, send)
