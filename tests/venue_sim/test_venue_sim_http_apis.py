"""The Data API and swap aggregator stand-ins answer in the shapes their real clients read."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from solana.rpc.async_api import AsyncClient
from solders.transaction import VersionedTransaction
from spl.token.instructions import get_associated_token_address

from services.feed.history_import import parse_funding_file
from services.venue_sim.swap_api import price_impact
from tests.kit.venue_sim_builders import (
    QUOTE_MINT,
    SOL_MINT,
    WALLET_LAMPORTS,
    WALLET_USDC,
    SimAndWallet,
)

SOL, USDC = str(SOL_MINT), str(QUOTE_MINT)


async def get_json(url: str, **params: object) -> tuple[int, dict]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(url, params=params)
    return answer.status_code, json.loads(answer.text, parse_float=Decimal)


async def test_legacy_funding_rates_are_raw_integer_strings_history_import_accepts(
    sim: SimAndWallet,
) -> None:
    status, document = await get_json(f"{sim.sim.data_api_url}/fundingRates",
                                      marketIndex="0,1,2")
    assert status == 200
    first = document["fundingRates"][0]
    assert first["fundingRate"].lstrip("-").isdigit() and first["oraclePriceTwap"].isdigit()
    markets = parse_funding_file(document)
    assert set(markets) == {"SOL-PERP", "BTC-PERP", "ETH-PERP"}
    index, hours = markets["SOL-PERP"]
    assert index == 0
    assert len(hours) == 73 * 24
    # 2026-03-09 averaged -1.539e-5 an hour (the daily file); its hours carry that average...
    day = [h for h in hours if h.period_start.date() == datetime(2026, 3, 9).date()]
    expanded = [h.rate_1h for h in day if h.period_start.hour != 15]
    assert all(abs(rate - Decimal("-0.00001539")) < Decimal("1e-10") for rate in expanded)
    # ...except 15:00, which the SOL-PERP account recorded: -987625 / 1e9 / 85.043706
    (recorded,) = [h for h in day if h.period_start.hour == 15]
    assert recorded.period_start == datetime(2026, 3, 9, 15, tzinfo=UTC)
    assert abs(recorded.rate_1h - Decimal("-1.1613146303854631e-05")) < Decimal("1e-15")


async def test_newer_funding_rates_are_scaled_records_history_import_accepts(
    sim: SimAndWallet,
) -> None:
    status, document = await get_json(f"{sim.sim.data_api_url}/market/SOL-PERP/fundingRates",
                                      limit=1000)
    assert status == 200
    assert document["success"] is True
    assert document["meta"]["nextPage"] == 1
    assert "." in document["records"][0]["oraclePriceTwap"]
    _, rest = await get_json(f"{sim.sim.data_api_url}/market/SOL-PERP/fundingRates",
                             limit=1000, page=1)
    assert rest["meta"]["nextPage"] is None
    hours = parse_funding_file(document)["SOL-PERP"][1] + \
        parse_funding_file(rest)["SOL-PERP"][1]
    assert len(hours) == 73 * 24
    assert hours[0].period_start == datetime(2026, 1, 10, tzinfo=UTC)


async def test_the_data_api_refuses_unknown_markets_and_bad_paging(sim: SimAndWallet) -> None:
    status, document = await get_json(f"{sim.sim.data_api_url}/fundingRates",
                                      marketName="DOGE-PERP")
    assert (status, "unknown market" in document["error"]) == (400, True)
    status, document = await get_json(f"{sim.sim.data_api_url}/fundingRates")
    assert status == 400
    status, document = await get_json(f"{sim.sim.data_api_url}/market/SOL-PERP/fundingRates",
                                      limit=0)
    assert (status, document["success"]) == (400, False)


async def test_a_quote_prices_sol_at_the_recorded_oracle_less_a_small_impact(
    sim: SimAndWallet,
) -> None:
    status, quote = await get_json(f"{sim.sim.swap_url}/quote", inputMint=SOL, outputMint=USDC,
                                   amount=10**9, slippageBps=50)
    assert status == 200
    impact = Decimal(quote["priceImpactPct"])
    assert Decimal("0.001") <= impact < Decimal("0.003")
    assert int(quote["outAmount"]) == int(Decimal("85.016475") * (1 - impact) * 10**6)
    assert int(quote["otherAmountThreshold"]) == int(quote["outAmount"]) * 9950 // 10000
    assert quote["routePlan"][0]["swapInfo"]["label"] == "venue_sim stand-in route"
    status, refused = await get_json(f"{sim.sim.swap_url}/v6/quote", inputMint=SOL,
                                     outputMint=SOL, amount=1)
    assert (status, refused["errorCode"]) == (400, "COULD_NOT_FIND_ANY_ROUTE")


async def test_a_swap_transaction_signed_by_the_wallet_lands_through_the_rpc_stand_in(
    sim: SimAndWallet,
) -> None:
    async with httpx.AsyncClient() as http:
        quote = (await http.get(f"{sim.sim.swap_url}/quote", params={
            "inputMint": USDC, "outputMint": SOL, "amount": 100 * 10**6})).json()
        answer = await http.post(f"{sim.sim.swap_url}/swap", json={
            "quoteResponse": quote, "userPublicKey": str(sim.wallet.pubkey()),
            "wrapAndUnwrapSol": True,
        })
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(answer.json()["swapTransaction"]))
    signed = VersionedTransaction(unsigned.message, [sim.wallet])
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        await connection.send_raw_transaction(bytes(signed))
        lamports = (await connection.get_balance(sim.wallet.pubkey())).value
        usdc = await connection.get_token_account_balance(
            get_associated_token_address(sim.wallet.pubkey(), QUOTE_MINT))
    finally:
        await connection.close()
    assert lamports == WALLET_LAMPORTS + int(quote["outAmount"])
    assert int(usdc.value.amount) == WALLET_USDC - 100 * 10**6


@settings(max_examples=100)
@given(small=st.integers(1, 10**7), extra=st.integers(1, 10**7))
def test_swap_quote_impact_stays_in_property_3_band_and_grows_with_size(
    small: int, extra: int
) -> None:
    low, high = price_impact(Decimal(small)), price_impact(Decimal(small + extra))
    assert Decimal("0.001") <= low < high <= Decimal("0.003")
