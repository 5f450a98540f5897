"""Keep-alive connections handed out one request at a time, opened as the load needs them."""

from __future__ import annotations

from bench.http_client import KeepAlive


class ConnectionPool:
    def __init__(self, address: str, token: str | None) -> None:
        self._address = address
        self._token = token
        self._idle: list[KeepAlive] = []

    async def get(self, path: str) -> bytes:
        """One GET; a status other than 200 raises, so the caller counts it as an error."""
        connection = self._idle.pop() if self._idle else await KeepAlive.open(
            self._address, self._token)
        try:
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
