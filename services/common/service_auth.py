"""Who may call a service: a bearer token in each call's metadata, checked by one interceptor.

Two tokens travel this way, both as `authorization: Bearer <token>`:
- the service token (SERVICE_TOKEN_FILE or SERVICE_TOKEN), made for each run by the launcher or
  kept in a chart Secret, given to the engine, the executor and the vault alone. The executor
  and the vault answer only calls that carry it, so nothing but the engine, behind its safety
  gates, can move money;
- the user's API token (DNE_API_TOKEN), which the engine's commands require.

The health service and reflection stay open: readiness probes and `grpcurl list` need no token.
A refusal says how to send the token and never shows what was sent; tokens are compared in
constant time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Final, Protocol

import grpc

from services.common.secret_file import SecretFileError, read_secret_file

AUTHORIZATION: Final = "authorization"
SCHEME: Final = "bearer"
MIN_TOKEN_LENGTH: Final = 16
MAX_TOKEN_FILE_BYTES: Final = 4096
# Open on every server: the probes and the tools that discover a server.
OPEN_SERVICES: Final = frozenset({
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
})


class TokenError(ValueError):
    """A token setting that cannot be used; the message names the setting, never the value."""


class HoldsServiceToken(Protocol):
    service_token: str | None
    service_token_file: Path | None


def load_service_token(settings: HoldsServiceToken) -> str:
    """The service token from SERVICE_TOKEN_FILE or SERVICE_TOKEN (one of them, not both)."""
    if settings.service_token_file is not None:
        if settings.service_token:
            raise TokenError("both SERVICE_TOKEN and SERVICE_TOKEN_FILE are set: set only one")
        token = read_token_file(settings.service_token_file, "SERVICE_TOKEN_FILE")
    elif settings.service_token:
        token = settings.service_token.strip()
    else:
        raise TokenError(
            "SERVICE_TOKEN_FILE (or SERVICE_TOKEN) is not set: the engine, the executor and the "
            "vault share a secret so that only the engine can trade; `make run` makes one per "
            "run, the Helm chart keeps one in a Secret")
    return check_token(token, "SERVICE_TOKEN_FILE" if settings.service_token_file else
                       "SERVICE_TOKEN")


def check_token(token: str, setting: str) -> str:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(f"{setting} must hold at least {MIN_TOKEN_LENGTH} characters")
    if not token.isascii() or not token.isprintable() or " " in token:
        raise TokenError(f"{setting} must be printable ASCII without spaces (it travels in a "
                         "gRPC header)")
    return token


def read_token_file(path: Path, setting: str) -> str:
    """The text of a token file others cannot read (see services/common/secret_file.py)."""
    try:
        raw = read_secret_file(path, setting, MAX_TOKEN_FILE_BYTES, "a token")
    except SecretFileError as error:
        raise TokenError(str(error)) from None
    return raw.decode("ascii", errors="replace")


def write_token_file(path: Path, token: str) -> Path:
    """Writes a token readable by this user alone (0600), replacing any older file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as token_file:
        token_file.write(token)
    return path


def offered_token(metadata: Iterable[tuple[str, Any]] | None) -> str | None:
    """The token of an `authorization: Bearer <token>` entry, if the call has one."""
    for key, value in metadata or ():
        if key.lower() != AUTHORIZATION or not isinstance(value, str):
            continue
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == SCHEME and token.strip():
            return token.strip()
    return None


def token_matches(offered: str | None, expected: str) -> bool:
    if not offered:
        return False
    return secrets.compare_digest(offered.encode(), expected.encode())


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses UNAUTHENTICATED every call without the token, except to the open services and
    `open_methods` (full names, "/dne.engine.v1.EngineService/GetEngineStatus")."""

    def __init__(self, token: str, *, refusal: str,
                 open_methods: Iterable[str] = ()) -> None:
        self._token = token
        self._refusal = refusal
        self._open_methods = frozenset(open_methods)

    def is_open(self, method: str) -> bool:
        service = method.lstrip("/").partition("/")[0]
        return service in OPEN_SERVICES or method in self._open_methods

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None or self.is_open(handler_call_details.method):
            return handler
        offered = offered_token(handler_call_details.invocation_metadata)
        if token_matches(offered, self._token):
            return handler
        return _refusing(handler, self._refusal)


def _refusing(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same kind that refuses before reading the request (no deserializer:
    nothing from an unauthenticated caller is parsed)."""

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    serializer = handler.response_serializer
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse, response_serializer=serializer)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse, response_serializer=serializer)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse, response_serializer=serializer)
    return grpc.unary_unary_rpc_method_handler(refuse, response_serializer=serializer)


def service_token_guard(token: str) -> BearerTokenInterceptor:
    """The executor's and the vault's: every call but health and reflection needs the token."""
    return BearerTokenInterceptor(token, refusal=(
        "this service answers the engine only: send the service token (SERVICE_TOKEN_FILE) as "
        "'authorization: Bearer <token>'"))


def api_token_guard(token: str, open_methods: Iterable[str]) -> BearerTokenInterceptor:
    """The engine's: its commands need the user's API token, its reads do not."""
    return BearerTokenInterceptor(token, open_methods=open_methods, refusal=(
        "engine commands need the API token (DNE_API_TOKEN, var/api-token under `make run`): "
        "send 'authorization: Bearer <token>'"))


# --- the client side: every call on a channel carries the token -----------------------------

def _with_token(details: grpc.aio.ClientCallDetails, header: str) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    metadata[AUTHORIZATION] = header
    return details._replace(metadata=metadata)


class _Bearer:
    def __init__(self, header: str) -> None:
        self._header = header


class _UnaryUnary(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any,
                                    request: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request)


class _UnaryStream(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any,
                                     request: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header), request)


class _StreamUnary(_Bearer, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any,
                                     request_iterator: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header),
                                  request_iterator)


class _StreamStream(_Bearer, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any,
                                      request_iterator: Any) -> Any:
        return await continuation(_with_token(client_call_details, self._header),
                                  request_iterator)


def bearer_interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors that send `authorization: Bearer <token>` on every call (one per
    call kind: a grpc.aio channel files each interceptor under the first kind it matches)."""
    header = f"Bearer {token}"
    return [_UnaryUnary(header), _UnaryStream(header), _StreamUnary(header),
            _StreamStream(header)]
