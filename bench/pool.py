"""Keep-alive connections handed out one request at a time, opened as the load needs them."""

from __future__ import annotations

import asyncio

from bench.http_client import KeepAlive


class ConnectionPool:
    def __init__(self, address: str, token: str | None) -> None:
        self._address = address
        self._token = token
        self._idle: list[KeepAlive] = []

    async def get(self, path: str) -> bytes:
        """One GET; a status other than 200 raises, so the caller counts it as an error."""
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else await KeepAlive.open(
            self._address, self._token)
        try:
            status, body = await connection.get(path)
        except asyncio.IncompleteReadError as error:
            connection.close()
            if not (reused and error.partial == b""):
                raise
            # The server closed a connection left idle past its keep-alive timeout (uvicorn:
            # 5 s), as it may; a browser opens another, and so does this pool, once.
            connection = await KeepAlive.open(self._address, self._token)
            status, body = await connection.get(path)
        except Exception:
            connection.close()
            raise
        self._idle.append(connection)
        if status != 200:
            raise RuntimeError(f"GET {path}: expected 200, got {status}")
        return body

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
