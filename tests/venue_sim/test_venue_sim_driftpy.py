"""driftpy's own DriftClient, unchanged, subscribes to the stand-in and reads what was recorded."""

from __future__ import annotations

import asyncio
import base64

import pytest
from driftpy.addresses import get_perp_market_public_key
from driftpy.types import OracleInfo
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from services.venue_sim.rpc import METHODS
from services.venue_sim.synthetic import EXCHANGE_PAUSED
from tests.kit.venue_sim_builders import (
    PROGRAM_ID,
    SimAndWallet,
    decode_account,
    drift_client,
    recorded_records,
    short_market_order,
)


def exchange_paused(state) -> bool:
    """Any operation bit set. (driftpy 0.8.89's math.exchange_status.exchange_paused treats the
    u8 as an enum variant and answers True for every State, so it cannot be used here.)"""
    return state.exchange_status != 0


SUMMARY_FIELDS = {
    "last_oracle_price": lambda m: m.amm.historical_oracle_data.last_oracle_price,
    "last_oracle_price_twap": lambda m: m.amm.historical_oracle_data.last_oracle_price_twap,
    "last_funding_rate": lambda m: m.amm.last_funding_rate,
    "last_funding_rate_ts": lambda m: m.amm.last_funding_rate_ts,
    "last_mark_price_twap": lambda m: m.amm.last_mark_price_twap,
    "base_asset_amount_long": lambda m: m.amm.base_asset_amount_long,
    "base_asset_amount_short": lambda m: m.amm.base_asset_amount_short,
    "margin_ratio_initial": lambda m: m.margin_ratio_initial,
    "margin_ratio_maintenance": lambda m: m.margin_ratio_maintenance,
    "status": lambda m: type(m.status).__name__,
    "contract_type": lambda m: type(m.contract_type).__name__,
}


def served_perp_summaries(sim: SimAndWallet) -> dict[int, dict]:
    """The summary of the recording each served perp market comes from."""
    summaries = {}
    for record in recorded_records():
        if record.kind != "PerpMarket":
            continue
        index = record.summary["market_index"]
        served = sim.venue.store.get(get_perp_market_public_key(PROGRAM_ID, index))
        if served is not None and served.data == record.data:
            summaries[index] = record.summary
    return summaries


async def test_drift_client_subscribes_and_decodes_every_perp_market_as_its_snapshot_summary(
    sim: SimAndWallet,
) -> None:
    summaries = served_perp_summaries(sim)
    assert set(summaries) == {0, 1, 2, 4, 9, 10, 13, 23, 24, 26, 27, 37}
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=sorted(summaries),
                            spot_market_indexes=[0, 1]) as client:
        for index, summary in summaries.items():
            market = client.get_perp_market_account(index)
            assert bytes(market.name).decode().strip() == summary["name"]
            for name, read in SUMMARY_FIELDS.items():
                assert read(market) == summary[name], (summary["name"], name)


async def test_drift_client_prices_sol_perp_at_the_recorded_oracle_price(
    sim: SimAndWallet,
) -> None:
    sol = decode_account(sim.venue.store.get(get_perp_market_public_key(PROGRAM_ID, 0)).data)
    oracles = [OracleInfo(sol.amm.oracle, sol.amm.oracle_source)]
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0, 1], oracle_infos=oracles) as client:
        price = client.get_oracle_price_data_for_perp_market(0)
        assert price.price == 85_016_475  # SOL-PERP last_oracle_price, 2026-03-09
        assert type(sol.amm.oracle_source).__name__ == "PythLazer"


@pytest.mark.parametrize("kind", ["cached", "polling", "websocket"])
async def test_every_subscription_kind_finds_all_markets_and_prices_them_offline(
    sim: SimAndWallet, kind: str
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, kind) as client:
        state = client.get_state_account()
        assert (state.number_of_markets, state.number_of_spot_markets) == (3, 2)
        assert client.get_perp_market_account(0).market_index == 0
        assert client.get_oracle_price_data_for_perp_market(2).price == 2_024_725_003
        assert client.get_user_account().authority == sim.wallet.pubkey()
        assert client.get_user().get_health() == 100


async def test_state_reads_active_when_started_unpaused(sim: SimAndWallet) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0]) as client:
        state = client.get_state_account()
        assert state.exchange_status == 0
        assert not exchange_paused(state)


async def test_state_reads_paused_when_started_paused(paused_sim: SimAndWallet) -> None:
    async with drift_client(paused_sim.sim.rpc_url, paused_sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0]) as client:
        state = client.get_state_account()
        assert state.exchange_status == EXCHANGE_PAUSED
        assert exchange_paused(state)


async def test_pausing_the_exchange_mid_test_shows_on_the_next_fetch(sim: SimAndWallet) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0],
                            spot_market_indexes=[0]) as client:
        sim.venue.store.set_exchange_paused(True)
        await client.account_subscriber.fetch()
        assert exchange_paused(client.get_state_account())
        sim.venue.store.set_exchange_paused(False)
        await client.account_subscriber.fetch()
        assert not exchange_paused(client.get_state_account())


async def test_a_perp_market_can_be_served_active_or_not(sim: SimAndWallet) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, perp_market_indexes=[0, 4],
                            spot_market_indexes=[0]) as client:
        assert type(client.get_perp_market_account(0).status).__name__ == "Active"
        assert type(client.get_perp_market_account(4).status).__name__ == "FundingPaused"
        sim.venue.store.set_perp_market_status(0, "ReduceOnly")
        sim.venue.store.set_perp_market_status(4, "Active")
        await client.account_subscriber.fetch()
        assert type(client.get_perp_market_account(0).status).__name__ == "ReduceOnly"
        assert type(client.get_perp_market_account(4).status).__name__ == "Active"


async def test_a_recorded_user_reads_through_drift_client_with_its_authority(
    sim: SimAndWallet,
) -> None:
    user_record = next(r for r in recorded_records() if r.kind == "User"
                       and r.summary["authority"].startswith("7hMw"))
    authority = Pubkey.from_string(user_record.summary["authority"])
    async with drift_client(sim.sim.rpc_url, Keypair(), perp_market_indexes=[1, 24],
                            spot_market_indexes=[0, 1, 3, 4], authority=authority) as client:
        user = client.get_user_account()
        assert user.authority == authority
        positions = {p.market_index: p.base_asset_amount for p in user.perp_positions
                     if p.base_asset_amount}
        assert positions == {1: 300_000_000, 24: 20_000_000_000_000}
        assert base64.b64encode(sim.venue.store.get(client.get_user_account_public_key()).data)\
            .decode() == base64.b64encode(user_record.data).decode()


async def test_a_websocket_subscriber_hears_a_change_without_fetching(sim: SimAndWallet) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, "websocket",
                            perp_market_indexes=[0], spot_market_indexes=[0]) as client:
        await asyncio.sleep(0.3)  # driftpy opens its accountSubscribe sockets in the background
        sim.venue.store.set_exchange_paused(True)
        for _ in range(40):
            if client.get_state_account().exchange_status == EXCHANGE_PAUSED:
                break
            await asyncio.sleep(0.05)
        assert client.get_state_account().exchange_status == EXCHANGE_PAUSED
    assert sim.venue.calls["accountSubscribe"] >= 1


@pytest.mark.parametrize("kind", ["cached", "polling", "websocket"])
async def test_driftpy_asks_only_for_methods_the_stand_in_implements(
    sim: SimAndWallet, kind: str
) -> None:
    async with drift_client(sim.sim.rpc_url, sim.wallet, kind) as client:
        await client.place_perp_order(short_market_order())
    implemented = set(METHODS) | {"accountSubscribe", "accountUnsubscribe", "programSubscribe",
                                  "programUnsubscribe"}
    assert set(sim.venue.calls) <= implemented
    assert {"getAccountInfo", "getLatestBlockhash", "sendTransaction",
            "getSignatureStatuses"} <= set(sim.venue.calls)
