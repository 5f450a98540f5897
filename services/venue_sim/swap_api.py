"""Jupiter v6-style swap aggregator stand-in: GET /quote and POST /swap (also under /v6/).

STAND-IN ROUTE: there is no Jupiter here and no AMM. The quote prices SOL at the recorded SOL
oracle price (the served oracle of Drift's SOL spot market, decoded with driftpy) less a small
price impact that grows with size (0.1 % to 0.3 %). The swap transaction is built with solders:
a compute-unit limit and a Memo instruction signed by the wallet that carries the quoted
amounts; when the RPC stand-in confirms it, the wallet's SOL and USDC move by those amounts.
It has the wire shape of Jupiter's (a base64 unsigned VersionedTransaction the wallet signs and
sends), not its instructions.
"""

from __future__ import annotations

import base64
import json
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web
from driftpy.accounts.oracle import decode_oracle
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import AccountMeta, Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from services.venue_sim.effects import SWAP_MEMO_PREFIX
from services.venue_sim.tx_decode import MEMO_PROGRAM
from services.venue_sim.venue import Venue

SOL_SPOT_MARKET_INDEX = 1
LAMPORTS = Decimal(10**9)
USDC_UNITS = Decimal(10**6)
MIN_IMPACT, MAX_EXTRA_IMPACT = Decimal("0.001"), Decimal("0.002")
IMPACT_HALF_NOTIONAL_USD = Decimal(1_000_000)  # notional where impact reaches 0.2 %
MAX_SLIPPAGE_BPS = 10_000
ROUTE_LABEL = "venue_sim stand-in route"


def sol_price(venue: Venue) -> Decimal:
    """USD per SOL from the served oracle of the venue's SOL spot market."""
    store = venue.store
    address = store.spot_market_address(SOL_SPOT_MARKET_INDEX)
    if store.get(address) is None:
        raise LookupError("no SOL spot market is served")
    market_oracle = store.market_oracle(address)
    oracle = store.get(market_oracle.address)
    if oracle is None:
        raise LookupError("the SOL oracle is not served")
    return Decimal(decode_oracle(oracle.data, market_oracle.source).price) / Decimal(10**6)


def price_impact(notional_usd: Decimal) -> Decimal:
    """0.1 % for a tiny trade, growing towards 0.3 % with size."""
    return MIN_IMPACT + MAX_EXTRA_IMPACT * notional_usd / (notional_usd + IMPACT_HALF_NOTIONAL_USD)


def quote(venue: Venue, input_mint: str, output_mint: str, amount: int,
          slippage_bps: int) -> dict[str, Any]:
    price = sol_price(venue)
    sol, usdc = str(venue.store.sol_mint), str(venue.store.quote_mint)
    if {input_mint, output_mint} != {sol, usdc}:
        raise ValueError("only SOL <-> the quote mint is routed by the stand-in")
    if input_mint == sol:
        notional = Decimal(amount) / LAMPORTS * price
        impact = price_impact(notional)
        out_amount = int((notional * (1 - impact) * USDC_UNITS).to_integral_value(ROUND_DOWN))
    else:
        notional = Decimal(amount) / USDC_UNITS
        impact = price_impact(notional)
        out_amount = int((notional * (1 - impact) / price * LAMPORTS)
                         .to_integral_value(ROUND_DOWN))
    threshold = out_amount * (MAX_SLIPPAGE_BPS - slippage_bps) // MAX_SLIPPAGE_BPS
    return {
        "inputMint": input_mint, "inAmount": str(amount),
        "outputMint": output_mint, "outAmount": str(out_amount),
        "otherAmountThreshold": str(threshold), "swapMode": "ExactIn",
        "slippageBps": slippage_bps, "platformFee": None, "priceImpactPct": str(impact),
        "routePlan": [{"swapInfo": {
            "ammKey": str(MEMO_PROGRAM), "label": ROUTE_LABEL, "inputMint": input_mint,
            "outputMint": output_mint, "inAmount": str(amount), "outAmount": str(out_amount),
            "feeAmount": "0", "feeMint": input_mint,
        }, "percent": 100}],
        "contextSlot": venue.chain.slot(), "timeTaken": 0.001,
    }


def swap_transaction(venue: Venue, quote_response: dict[str, Any], user: Pubkey) -> \
        tuple[VersionedTransaction, int]:
    sol = str(venue.store.sol_mint)
    in_amount, out_amount = int(quote_response["inAmount"]), int(quote_response["outAmount"])
    selling_sol = quote_response["inputMint"] == sol
    deltas = {"sol_delta": -in_amount if selling_sol else out_amount,
              "usdc_delta": out_amount if selling_sol else -in_amount}
    memo = Instruction(MEMO_PROGRAM, (SWAP_MEMO_PREFIX + json.dumps(deltas)).encode(),
                       [AccountMeta(user, is_signer=True, is_writable=True)])
    blockhash, last_valid = venue.chain.latest_blockhash()
    message = MessageV0.try_compile(user, [set_compute_unit_limit(200_000), memo], [], blockhash)
    return VersionedTransaction.populate(message, [Signature.default()]), last_valid


def _refuse(message: str, code: str) -> web.Response:
    return web.json_response({"error": message, "errorCode": code}, status=400)


def swap_api_app(venue: Venue) -> web.Application:
    async def get_quote(request: web.Request) -> web.Response:
        try:
            amount = int(request.query["amount"])
            slippage = int(request.query.get("slippageBps", 50))
            if amount <= 0 or not 0 <= slippage <= MAX_SLIPPAGE_BPS:
                raise ValueError
            input_mint, output_mint = request.query["inputMint"], request.query["outputMint"]
        except (KeyError, ValueError):
            return _refuse("inputMint, outputMint and a positive integer amount are required; "
                           f"slippageBps 0..{MAX_SLIPPAGE_BPS}", "INVALID_REQUEST")
        try:
            return web.json_response(quote(venue, input_mint, output_mint, amount, slippage))
        except ValueError as error:
            return _refuse(str(error), "COULD_NOT_FIND_ANY_ROUTE")
        except LookupError as error:
            return _refuse(str(error), "ROUTE_PLAN_DOES_NOT_EXIST")

    async def post_swap(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            user = Pubkey.from_string(str(body["userPublicKey"]))
            tx, last_valid = swap_transaction(venue, body["quoteResponse"], user)
        except (KeyError, TypeError, ValueError) as error:
            return _refuse(f"quoteResponse (from /quote) and userPublicKey are required: {error}",
                           "INVALID_REQUEST")
        return web.json_response({
            "swapTransaction": base64.b64encode(bytes(tx)).decode(),
            "lastValidBlockHeight": last_valid, "prioritizationFeeLamports": 0,
        })

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    for prefix in ("", "/v6"):
        app.router.add_get(f"{prefix}/quote", get_quote)
        app.router.add_post(f"{prefix}/swap", post_swap)
    app.router.add_get("/health", health)
    return app
