"""The Host check (against DNS rebinding) answering its refusal in the API's error body."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import ErrorCode
from services.gateway.errors import error_response

_ADMITTED = "dne.host_admitted"


class HostCheckMiddleware:
    """Starlette's TrustedHostMiddleware decides; a request it refuses is answered 400
    INVALID_HOST in the JSON error body instead of its plain-text "Invalid host header"."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self._check = TrustedHostMiddleware(self._admit, allowed_hosts=allowed_hosts,
                                            www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # The check either calls _admit or answers its plain-text refusal, which is dropped.
        await self._check(scope, receive, _drop)
        if scope.pop(_ADMITTED, False):
            await self.app(scope, receive, send)
            return
        response = error_response(
            400, ErrorCode.INVALID_HOST,
            "the Host header names a host this gateway does not serve (see ALLOWED_HOSTS)")
        await response(scope, receive, send)

    @staticmethod
    async def _admit(scope: Scope, receive: Receive, send: Send) -> None:
        scope[_ADMITTED] = True


async def _drop(message: Message) -> None:
    pass
