"""Hourly funding history from Drift's Data API, in either of its two shapes, cached.

- scaled: `GET {base}/market/{symbol}/fundingRates?page=N&limit=L`, followed through
  meta.nextPage;
- legacy: `GET {base}/fundingRates?marketName={symbol}`.

Both are parsed by history_import.parse_funding_file, the parser `dne data import` uses, so a
fetched hour and an imported one mean the same. "auto" asks the scaled endpoint and falls back
to the legacy one when it is refused. A market's history is kept for the cache TTL; when the
API cannot be read the last history fetched is served (its age is logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
    wait_none,
)

from services.common.clock import Clock
from services.common.errors import DomainError, ErrorCode
from services.feed.history_import import ImportFailure, parse_funding_file
from services.feed.history_store import StoredFundingRecord

log = logging.getLogger(__name__)

PAGE_SIZE = 1_000
MAX_PAGES = 50               # 50,000 hours: more than five years of one market
HTTP_TIMEOUT_SECONDS = 10.0
SHAPES = ("auto", "scaled", "legacy")
Sleep = Callable[[float], Awaitable[None]]


class DataApiError(RuntimeError):
    """The Data API answered something other than funding records."""


class _Transient(Exception):
    """A failure worth retrying: transport error or a 5xx/429 answer."""


@dataclass(frozen=True)
class CachedHistory:
    fetched_at: datetime
    records: list[StoredFundingRecord]
    shape: str


class DataApiHistory:
    def __init__(
        self,
        base_url: str,
        clock: Clock,
        *,
        shape: str = "auto",
        ttl_seconds: float = 300.0,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, found {shape!r}")
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._shape = shape
        self._ttl = ttl_seconds
        self._delays = tuple(retry_delays)
        self._client = client or httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS)
        self._sleep = sleep
        self._cache: dict[str, CachedHistory] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def configured(self) -> bool:
        return bool(self._base)

    async def close(self) -> None:
        await self._client.aclose()

    async def history(self, symbol: str) -> CachedHistory:
        """The market's hourly records, oldest first: cached for the TTL, stale on failure."""
        if not self.configured:
            raise DomainError(
                ErrorCode.FAILED_PRECONDITION,
                "this venue profile names no Data API (data_api_url) and DATA_API_URL is unset: "
                "funding history is not available live",
            )
        async with self._locks.setdefault(symbol, asyncio.Lock()):
            cached = self._cache.get(symbol)
            now = self._clock.now()
            if cached is not None and (now - cached.fetched_at).total_seconds() < self._ttl:
                return cached
            try:
                records, shape = await self._fetch(symbol)
            except (DataApiError, httpx.HTTPError, _Transient) as error:
                if cached is None:
                    raise DomainError(
                        ErrorCode.VENUE_UNAVAILABLE,
                        f"Drift's Data API could not be read for {symbol}: {error}",
                    ) from error
                log.warning("Data API unreadable; serving the last history fetched", extra={
                    "market": symbol, "age_seconds": (now - cached.fetched_at).total_seconds(),
                    "error": str(error)})
                return cached
            fresh = CachedHistory(now, records, shape)
            self._cache[symbol] = fresh
            return fresh

    async def _fetch(self, symbol: str) -> tuple[list[StoredFundingRecord], str]:
        if self._shape == "legacy":
            return await self._legacy(symbol), "legacy"
        if self._shape == "scaled":
            return await self._scaled(symbol), "scaled"
        try:
            return await self._scaled(symbol), "scaled"
        except DataApiError as refused:
            log.info("scaled fundingRates refused; asking the legacy endpoint",
                     extra={"market": symbol, "reason": str(refused)})
            return await self._legacy(symbol), "legacy"

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        """GET with retries on transport errors and 5xx/429; JSON with decimals kept exact."""
        waits = wait_chain(*(wait_fixed(delay) for delay in self._delays)) if self._delays \
            else wait_none()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(len(self._delays) + 1), wait=waits, sleep=self._sleep,
            retry=retry_if_exception_type((httpx.TransportError, _Transient)), reraise=True,
        )
        url = f"{self._base}{path}"

        async def once() -> httpx.Response:
            response = await self._client.get(url, params=params)
            if response.status_code >= 500 or response.status_code == 429:
                raise _Transient(f"{url} answered HTTP {response.status_code}")
            return response

        response = await retrying(once)
        if response.status_code != 200:
            raise DataApiError(f"{url} answered HTTP {response.status_code}: "
                               f"{response.text[:200]}")
        try:
            return json.loads(response.text, parse_float=Decimal)
        except ValueError as error:
            raise DataApiError(f"{url} did not answer JSON: {error}") from None

    def _records(self, document: Any, symbol: str) -> list[StoredFundingRecord]:
        try:
            markets = parse_funding_file(document)
        except ImportFailure as failure:
            raise DataApiError(str(failure)) from None
        _index, records = markets.get(symbol, (None, []))
        return records

    async def _scaled(self, symbol: str) -> list[StoredFundingRecord]:
        path = f"/market/{quote(symbol, safe='')}/fundingRates"
        pages: list[Any] = []
        page: Any = 0
        for _ in range(MAX_PAGES):
            document = await self._get(path, {"page": page, "limit": PAGE_SIZE})
            if not isinstance(document, dict) or "records" not in document:
                raise DataApiError(f"{path} answered no 'records'")
            pages.extend(document["records"])
            page = (document.get("meta") or {}).get("nextPage")
            if page is None:
                break
        return self._records({"success": True, "records": pages}, symbol) if pages else []

    async def _legacy(self, symbol: str) -> list[StoredFundingRecord]:
        document = await self._get("/fundingRates", {"marketName": symbol})
        if isinstance(document, dict) and document.get("fundingRates") == []:
            return []
        return self._records(document, symbol)
