"""Live-trading behaviour of the stand-in, read back through driftpy's own DriftUser math:
market orders fill as a taker against the AMM, settle_pnl, funding and oracle switches, the
venue profile and getGenesisHash."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from driftpy.account_subscription_config import AccountSubscriptionConfig
from driftpy.addresses import (
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_user_account_public_key,
)
from driftpy.drift_client import DriftClient
from driftpy.math.margin import MarginCategory
from driftpy.types import OracleInfo, OrderParams, PositionDirection
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from services.common.venue_profile import load_profile
from services.venue_sim.perp_math import fill_price, slippage_fraction
from tests.kit.venue_sim_builders import (
    QUOTE_MINT,
    SimAndWallet,
    drift_client,
    fork_profile,
    running_sim,
    short_market_order,
    use_program,
)

SOL_ORACLE = 85_016_475          # SOL-PERP's recorded oracle price (1e6)
TWO_SOL = 2_000_000_000


def oracles(sim: SimAndWallet) -> list[OracleInfo]:
    store = sim.venue.store
    market = store.decoded(get_perp_market_public_key(store.program_id, 0))
    found = [OracleInfo(market.amm.oracle, market.amm.oracle_source)]
    for index in (0, 1):
        spot = store.decoded(get_spot_market_public_key(store.program_id, index))
        found.append(OracleInfo(spot.oracle, spot.oracle_source))
    return found


def order(direction: str, base: int, limit: int = 0, reduce_only: bool = False) -> OrderParams:
    params = short_market_order(base, limit)
    params.direction = getattr(PositionDirection, direction)()
    params.reduce_only = reduce_only
    return params


async def funded_client(sim: SimAndWallet, usdc: int = 1_000_000_000):
    context = drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                           spot_market_indexes=[0, 1], oracle_infos=oracles(sim))
    client = await context.__aenter__()
    await client.deposit(usdc, 0, get_associated_token_address(sim.wallet.pubkey(), QUOTE_MINT))
    return context, client


async def refreshed(client: DriftClient):
    await client.account_subscriber.fetch()
    user = client.get_user()
    await user.account_subscriber.fetch()
    return user


def test_fill_price_moves_against_the_taker_by_0_1_to_0_3_pct_growing_with_size() -> None:
    small = fill_price(SOL_ORACLE, 10_000_000, True, 100)
    large = fill_price(SOL_ORACLE, 100_000 * 10**9, True, 100)
    assert Decimal(small) / SOL_ORACLE - 1 == pytest.approx(Decimal("0.001"), abs=Decimal("2e-6"))
    assert Decimal("0.0029") < Decimal(large) / SOL_ORACLE - 1 <= Decimal("0.003") + Decimal("2e-6")
    assert fill_price(SOL_ORACLE, TWO_SOL, False, 100) < SOL_ORACLE < small
    assert slippage_fraction(Decimal(1)) < slippage_fraction(Decimal(10_000))


async def test_a_market_short_fills_and_drift_user_math_reads_the_position(
    sim: SimAndWallet,
) -> None:
    context, client = await funded_client(sim)
    try:
        await client.place_perp_order(order("Short", TWO_SOL, 80_000_000))
        user = await refreshed(client)
        position = user.get_perp_position(0)
        price = 84_931_100  # 85.016475 x (1 - 0.10034 %), floored to the 0.0001 tick
        quote = TWO_SOL * price // 10**9
        fee = -(-quote * 35 // 100_000)
        market = client.get_perp_market_account(0)
        assert (position.base_asset_amount, position.quote_entry_amount) == (-TWO_SOL, quote)
        assert position.quote_asset_amount == position.quote_break_even_amount == quote - fee
        assert position.last_cumulative_funding_rate == market.amm.cumulative_funding_rate_short
        assert position.open_orders == 0 and user.get_open_orders() == []
        usdc_price = client.get_oracle_price_data_for_spot_market(0).price
        expected_pnl = (quote - fee - TWO_SOL * SOL_ORACLE // 10**9) * usdc_price / 10**6
        assert user.get_unrealized_pnl(True) == pytest.approx(expected_pnl, abs=2)
        notional = TWO_SOL * SOL_ORACLE // 10**9  # 170.03295 USDC
        initial = notional * market.margin_ratio_initial // 10_000       # 5 %: 8.50 USDC
        maintenance = notional * market.margin_ratio_maintenance // 10_000  # 3 %: 5.10 USDC
        assert user.get_margin_requirement() == pytest.approx(initial, rel=1e-3)
        assert user.get_margin_requirement(MarginCategory.MAINTENANCE) == \
            pytest.approx(maintenance, rel=1e-3)
        collateral = user.get_total_collateral()  # 1000 USDC deposited less fee and loss
        assert collateral == pytest.approx(1_000_000_000 * usdc_price / 10**6 + expected_pnl,
                                           abs=3_000)
        assert user.get_health() == 99  # 100 x (1 - 5.10 / 999.6), floored
        assert user.get_leverage() == 1_700  # 0.17x in driftpy's 1e4 precision: 170.03 / 999.6
    finally:
        await context.__aexit__(None, None, None)


async def test_closing_realizes_pnl_and_settle_pnl_moves_it_into_usdc(sim: SimAndWallet) -> None:
    context, client = await funded_client(sim)
    try:
        await client.place_perp_order(order("Short", TWO_SOL))
        await client.place_perp_order(order("Long", 5 * TWO_SOL, reduce_only=True))
        user = await refreshed(client)
        position = user.get_perp_position(0)
        opened, closed = 169_862_200, 170_203_600  # 2 x 84.9311 and 2 x 85.1018
        fees = -(-opened * 35 // 100_000) - (-closed * 35 // 100_000)
        assert position.base_asset_amount == 0 and position.quote_entry_amount == 0
        assert position.quote_asset_amount == opened - closed - fees
        assert position.last_cumulative_funding_rate == 0
        assert user.get_margin_requirement() == 0 and user.get_health() == 100
        assert user.get_leverage() == 0
        before = user.get_token_amount(0)
        await client.settle_pnl(client.get_user_account_public_key(), user.get_user_account(), 0)
        user = await refreshed(client)
        assert user.get_perp_position(0) is None  # quote 0: the slot is free again
        assert before + (opened - closed - fees) - 1 <= user.get_token_amount(0) <= \
            before + (opened - closed - fees)
        assert user.get_user_account().settled_perp_pnl == opened - closed - fees
    finally:
        await context.__aexit__(None, None, None)


async def test_a_fill_beyond_the_price_limit_is_refused_and_changes_nothing(
    sim: SimAndWallet,
) -> None:
    context, client = await funded_client(sim)
    try:
        with pytest.raises(RPCException) as refused:
            await client.place_perp_order(order("Short", TWO_SOL, 85_000_000))
        assert "custom program error: 0x177f" in str(refused.value)  # 6015 SlippageOutsideLimit
        ix = client.get_place_perp_order_ix(order("Long", TWO_SOL, 85_000_000))
        tx = await client.tx_sender.get_versioned_tx(
            [ix], client.wallet.payer, await client.fetch_market_lookup_table_accounts())
        sent = await client.connection.send_raw_transaction(bytes(tx), TxOpts(skip_preflight=True))
        status = (await client.connection.get_signature_statuses([sent.value])).value[0]
        assert status.err is not None
        user = await refreshed(client)
        assert user.get_perp_position(0) is None
        assert sim.venue.journal.sent()[-1].error == {"InstructionError": [0, {"Custom": 6015}]}
        with pytest.raises(RPCException):  # reduce-only with no position
            await client.place_perp_order(order("Long", TWO_SOL, reduce_only=True))
    finally:
        await context.__aexit__(None, None, None)


async def test_funding_switch_moves_unrealized_funding_by_size_rate_and_price(
    sim: SimAndWallet,
) -> None:
    context, client = await funded_client(sim)
    try:
        await client.place_perp_order(order("Short", TWO_SOL))
        async with httpx.AsyncClient(base_url=sim.sim.rpc_url) as http:
            answer = await http.post("/_control/funding", json={"market_index": 0,
                                                                "rate_1h": "0.0001"})
            assert answer.status_code == 200
            assert answer.json()["funding_rate"] == 8_501_648  # 0.0001 x 85.016475 x 1e9
            bad = await http.post("/_control/funding", json={"market_index": 0,
                                                             "rate_1h": "NaN"})
            assert bad.status_code == 400
        user = await refreshed(client)
        # a short receives a positive rate: 2 SOL x 0.0001 x 85.016475 = 0.017003 USDC
        assert user.get_unrealized_funding_pnl() == pytest.approx(17_003, abs=1)
        await client.place_perp_order(order("Long", TWO_SOL, reduce_only=True))
        user = await refreshed(client)
        assert user.get_user_account().cumulative_perp_funding == 17_003
    finally:
        await context.__aexit__(None, None, None)


async def test_oracle_switch_moves_the_price_and_a_stale_oracle_refuses_fills(
    sim: SimAndWallet,
) -> None:
    context, client = await funded_client(sim)
    try:
        async with httpx.AsyncClient(base_url=sim.sim.rpc_url) as http:
            answer = await http.post("/_control/oracle", json={"market_index": 0,
                                                               "price": "90.5"})
            assert answer.status_code == 200
            await client.account_subscriber.fetch()
            assert client.get_oracle_price_data_for_perp_market(0).price == 90_500_000
            await client.place_perp_order(order("Short", TWO_SOL))
            assert "(oracle 90500000)" in sim.venue.journal.sent()[-1].effects[0]
            stale = await http.post("/_control/oracle", json={"market_index": 0,
                                                              "price": 91, "stale_slots": 50})
            assert stale.json()["slot"] <= sim.venue.chain.slot() - 50
            await client.account_subscriber.fetch()
            assert client.get_oracle_price_data_for_perp_market(0).slot == stale.json()["slot"]
            with pytest.raises(RPCException) as refused:
                await client.place_perp_order(order("Short", TWO_SOL))
            assert "0x187a" in str(refused.value)  # 6266 OracleStaleForAMM
            refused_body = await http.post("/_control/oracle", json={"market_index": 99,
                                                                     "price": 1})
            assert refused_body.status_code == 400
    finally:
        await context.__aexit__(None, None, None)


async def test_get_genesis_hash_answers_the_profile_or_the_override() -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "getGenesisHash"}
    override = "4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsfY"  # devnet
    for genesis, expected in (("", load_profile("drift").genesis_hash), (override, override)):
        async with running_sim(genesis_hash=genesis) as sim, httpx.AsyncClient() as http:
            answer = await http.post(sim.sim.rpc_url, json=request)
            assert answer.json()["result"] == expected


async def test_a_forks_profile_serves_its_program_and_driftpy_decodes_it() -> None:
    # A fork in Drift's layouts at another program id (Velocity's own profile is refused:
    # tests/venue_sim/test_venue_sim_profile_refusal.py).
    fork = fork_profile()
    program_id = Pubkey.from_string(fork.program_id)
    async with running_sim(profile=fork) as sim:
        store = sim.venue.store
        assert store.get(get_perp_market_public_key(program_id, 0)).owner == program_id
        assert store.get(get_user_account_public_key(program_id, sim.wallet.pubkey(), 0))
        connection = AsyncClient(sim.sim.rpc_url)
        # driftpy 0.8.89's DriftClient has no program_id argument: its program is replaced
        cached = AccountSubscriptionConfig("cached")
        client = use_program(
            DriftClient(connection, sim.wallet, "mainnet", account_subscription=cached),
            program_id, cached, [0], [0])
        try:
            await client.subscribe()
            assert client.get_perp_market_account(0).market_index == 0
            assert client.get_spot_market_account(0).mint == Pubkey.from_string(
                fork.quote_mint)
            assert client.get_user_account().authority == sim.wallet.pubkey()
        finally:
            await connection.close()


def test_the_oracle_keeper_reposts_fresh_oracles_and_leaves_stale_ones_stale() -> None:
    from services.venue_sim.market_switches import set_oracle
    from services.venue_sim.oracle_keeper import refresh_oracles
    from tests.kit.venue_sim_builders import make_venue

    venue = make_venue()
    store = venue.store
    markets = {store.decoded(a.address).market_index: store.decoded(a.address)
               for a in store.accounts.values() if a.kind == "PerpMarket"}
    set_oracle(store, venue.chain.slot(), 0, "85", stale_slots=40)
    refreshed = refresh_oracles(venue)
    assert refreshed == len(markets) - 1 or refreshed >= 1
    assert store.oracle_stale_slots[markets[0].amm.oracle] == 40  # left stale on purpose
    others = [m for index, m in markets.items() if index != 0]
    assert any("0 slots old" in store.accounts[m.amm.oracle].note for m in others)
