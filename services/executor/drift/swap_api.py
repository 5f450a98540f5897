"""The spot leg through a swap aggregator's HTTP API (Jupiter v6 style): GET /quote, then
POST /swap answers an unsigned transaction the wallet signs and the driver sends."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from services.common.errors import DomainError, ErrorCode

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SwapQuote:
    raw: dict[str, Any]
    in_amount: int
    out_amount: int
    price_impact: str


class SwapApi:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)

    async def close(self) -> None:
        await self._client.aclose()

    async def quote(self, input_mint: str, output_mint: str, amount: int,
                    slippage_bps: int) -> SwapQuote:
        answer = await self._call("GET", "/quote", params={
            "inputMint": input_mint, "outputMint": output_mint, "amount": str(amount),
            "slippageBps": str(slippage_bps), "swapMode": "ExactIn",
        })
        try:
            return SwapQuote(answer, int(answer["inAmount"]), int(answer["outAmount"]),
                             str(answer.get("priceImpactPct", "")))
        except (KeyError, TypeError, ValueError):
            raise DomainError(ErrorCode.VENUE_REJECTED,
                              "the swap API answered a quote without inAmount/outAmount") from None

    async def transaction(self, quote: SwapQuote, user: Pubkey
                          ) -> tuple[VersionedTransaction, int]:
        """The unsigned transaction and its lastValidBlockHeight (0 when not given)."""
        answer = await self._call("POST", "/swap", json={
            "quoteResponse": quote.raw, "userPublicKey": str(user), "wrapAndUnwrapSol": True,
        })
        try:
            tx = VersionedTransaction.from_bytes(base64.b64decode(answer["swapTransaction"]))
            return tx, int(answer.get("lastValidBlockHeight") or 0)
        except (KeyError, TypeError, ValueError):
            raise DomainError(ErrorCode.VENUE_REJECTED,
                              "the swap API answered no decodable swapTransaction") from None

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, self._base + path, **kwargs)
        except httpx.TransportError as error:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"the swap API at {self._base} did not answer "
                              f"({type(error).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            detail = str(body.get("error", "")) if isinstance(body, dict) else ""
            raise DomainError(ErrorCode.VENUE_REJECTED,
                              f"the swap API refused {path}: HTTP {response.status_code} "
                              f"{detail[:200]}".strip())
        return body
