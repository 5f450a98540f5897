"""Raw HTTP/1.1 on one keep-alive connection: httpx spends milliseconds of its own per request,
which would be measured with the server (as in tests/gateway/test_probe_costs_system.py)."""

from __future__ import annotations

import asyncio


class KeepAlive:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 address: str, headers: str) -> None:
        self._reader = reader
        self._writer = writer
        self._address = address
        self._headers = headers

    @classmethod
    async def open(cls, address: str, token: str | None = None) -> KeepAlive:
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        headers = f"Authorization: Bearer {token}\r\n" if token else ""
        return cls(reader, writer, address, headers)

    async def get(self, path: str) -> tuple[int, bytes]:
        """Sends one GET and reads its answer in full: (status, body)."""
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: {self._address}\r\n"
                           f"{self._headers}\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        body = await self._reader.readexactly(length)
        return int(head.split(b" ", 2)[1]), body

    def close(self) -> None:
        self._writer.close()
