"""The API token: Bearer header for REST, `?token=` for the WebSocket. Compared in constant
time; never logged, never echoed in an error."""

from __future__ import annotations

import secrets

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.errors import ErrorCode
from services.gateway.errors import ApiError

bearer_scheme = HTTPBearer(auto_error=False, description="DNE_API_TOKEN, as printed at start")


def token_matches(offered: str | None, expected: str) -> bool:
    if not offered:
        return False
    return secrets.compare_digest(offered.encode(), expected.encode())


async def require_token(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> None:
    expected: str = request.app.state.gateway.settings.api_token
    offered = credentials.credentials if credentials else None
    if not token_matches(offered, expected):
        raise ApiError(401, ErrorCode.UNAUTHORIZED,
                       "missing or wrong token: send 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": "Bearer"})
