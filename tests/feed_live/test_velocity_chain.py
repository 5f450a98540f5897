"""Velocity's perp markets read over the stand-in's Solana JSON-RPC (feed/velocity_chain.py): at
the addresses Velocity's IDL derives, owned by its program, decoded with its IDL. The stand-in
serves the recorded Drift markets re-encoded into Velocity's layout (labelled: no Velocity account
was ever recorded); a Drift-layout account at a Velocity address fails the read."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

from services.common.venue_profile import load_profile
from services.feed.chain_accounts import ChainReadError
from services.feed.drift_accounts import SNAPSHOTS_FILE, PerpMarketSnapshot, decode_perp_market
from services.feed.drift_chain import AccountLayoutRefused, DriftChainReader
from services.feed.drift_live_rows import live_market
from services.feed.settings import DEFAULT_DATA_DIR
from services.feed.velocity_accounts import decode_velocity_perp_market, velocity_decoder
from services.feed.velocity_chain import VelocityChainReader
from services.feed.velocity_rows import velocity_row
from services.venue_sim.accounts import ServedAccount
from services.venue_sim.velocity_markets import LABEL, reencoded_perp_markets
from tests.kit.venue_sim_builders import SimAndWallet

SYMBOLS = {0: "SOL-PERP", 1: "BTC-PERP", 2: "ETH-PERP"}


def latest_reencoded(symbol: str) -> bytes:
    """The newest recorded account of the market, in Velocity's layout."""
    candidates = [buffer for buffer, _ in reencoded_perp_markets(DEFAULT_DATA_DIR)
                  if decode_velocity_perp_market(buffer).symbol == symbol]
    return max(candidates, key=lambda b: decode_velocity_perp_market(b).last_update_slot)


def latest_recorded(symbol: str) -> PerpMarketSnapshot:
    records = json.loads((DEFAULT_DATA_DIR / SNAPSHOTS_FILE).read_text())["accounts"]
    markets = [decode_perp_market(base64.b64decode(r["base64"])) for r in records
               if r["kind"] == "PerpMarket"]
    return max((m for m in markets if m.symbol == symbol), key=lambda m: m.last_update_slot)


def serve(sim: SimAndWallet, reader: VelocityChainReader, index: int, data: bytes,
          owner: object = None) -> None:
    sim.venue.store.put(ServedAccount(
        reader.market_address(index), data, owner or reader.program_id, "PerpMarket",
        "SYNTHETIC", LABEL))


async def test_the_reader_finds_velocity_s_markets_at_its_own_addresses(sim: SimAndWallet) -> None:
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        reader = VelocityChainReader(connection, market_indexes=[0, 1, 2, 3], retry_delays=())
        for index, symbol in SYMBOLS.items():
            serve(sim, reader, index, latest_reencoded(symbol))
        read = await reader.read_markets()
    finally:
        await connection.close()
    assert read.missing == [3] and read.slot > 0
    for market in (m.snapshot for m in read.markets):
        recorded = latest_recorded(SYMBOLS[market.market_index])
        assert market == replace(recorded, source=market.source)
        assert market.source.startswith("velocity ")


async def test_a_drift_layout_at_a_velocity_address_fails_the_read(sim: SimAndWallet) -> None:
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        reader = VelocityChainReader(connection, market_indexes=[0, 1], retry_delays=())
        serve(sim, reader, 0, latest_reencoded("SOL-PERP"))
        drift_sol = next(base64.b64decode(r["base64"]) for r in json.loads(
            (DEFAULT_DATA_DIR / SNAPSHOTS_FILE).read_text())["accounts"]
            if r["kind"] == "PerpMarket" and decode_perp_market(
                base64.b64decode(r["base64"])).symbol == "BTC-PERP")
        serve(sim, reader, 1, drift_sol)
        with pytest.raises(AccountLayoutRefused, match="1216 bytes; this venue's IDL"):
            await reader.read_markets()
    finally:
        await connection.close()


async def test_an_account_another_program_owns_is_not_read(sim: SimAndWallet) -> None:
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        reader = VelocityChainReader(connection, market_indexes=[0], retry_delays=())
        serve(sim, reader, 0, latest_reencoded("SOL-PERP"), owner=sim.venue.program_id)
        read = await reader.read_markets()
    finally:
        await connection.close()
    assert (read.markets, read.missing) == ([], [0])


def serve_state(sim: SimAndWallet, reader: VelocityChainReader, data: bytes) -> None:
    sim.venue.store.put(ServedAccount(
        reader.state_address, data, reader.program_id, "State", "SYNTHETIC",
        "a Velocity State encoded from its IDL"))


@pytest.mark.parametrize(("status", "says"), [
    (0x00, ""),
    (0xFF, "the venue program is paused (exchange_status 0xFF"),
    (0x08, "fill_paused"),
])
async def test_the_state_says_whether_velocity_s_program_is_paused(
    sim: SimAndWallet, status: int, says: str,
) -> None:
    decoder = velocity_decoder()
    state = decoder.blank("State")
    state["exchange_status"] = status
    signer = Pubkey.new_unique()
    state["signer"] = str(signer)
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        reader = VelocityChainReader(connection, market_indexes=[], retry_delays=())
        serve_state(sim, reader, decoder.encode("State", state))
        read = await reader.read_state()
    finally:
        await connection.close()
    assert (read.exchange_status, read.signer) == (status, signer)
    assert (says in read.halt_reason) and bool(read.halt_reason) == bool(status)


async def test_a_drift_state_at_velocity_s_state_address_is_refused(sim: SimAndWallet) -> None:
    drift_state = sim.venue.store.of_kind("State")[0].data   # the stand-in's Drift State
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        reader = VelocityChainReader(connection, market_indexes=[], retry_delays=())
        with pytest.raises(ChainReadError, match="no Velocity State"):
            await reader.read_state()
        serve_state(sim, reader, drift_state)
        with pytest.raises(AccountLayoutRefused, match="State account is 992 bytes"):
            await reader.read_state()
    finally:
        await connection.close()


async def test_velocity_s_table_rows_match_drift_s_for_the_same_recorded_markets(
    sim: SimAndWallet,
) -> None:
    # The stand-in serves the recorded markets at Drift's addresses and, re-encoded, at
    # Velocity's; both readers read the same oracle accounts. Their rows must agree, except the
    # next-rate estimate, which only driftpy's Drift reader makes.
    connection = AsyncClient(sim.sim.rpc_url)
    try:
        velocity = VelocityChainReader(connection, market_indexes=[0, 1, 2], retry_delays=())
        for index, symbol in SYMBOLS.items():
            serve(sim, velocity, index, latest_reencoded(symbol))
        read = await velocity.read_markets()
        drift = DriftChainReader(connection, load_profile("drift"), market_indexes=[0, 1, 2],
                                 retry_delays=())
        drift_read = await drift.read_markets()
    finally:
        await connection.close()
    now = datetime(2026, 3, 9, 17, tzinfo=UTC)
    drift_rows = {m.row.symbol: m.row for m in [
        await live_market(market, drift_read.oracles, now, "drift") for market in
        drift_read.markets]}
    assert not read.oracles.unreadable and len(read.oracles.prices) == 3
    for market in read.markets:
        row = velocity_row(market, read.oracles)
        expected = drift_rows[row.symbol]
        assert row == replace(expected, estimated_next_rate_1h=None), row.symbol
        assert row.oracle_price > 0 and row.mark_price > 0
