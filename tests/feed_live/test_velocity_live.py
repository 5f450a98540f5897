"""The feed's Velocity mode over the stand-in's JSON-RPC, through the feed's gRPC services: the
live source that live_source.build_live_market makes for the velocity profile, reading the
State and the recorded markets re-encoded into Velocity's layout (labelled: no Velocity account
was ever recorded), with Velocity's own next-rate estimate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.common.clock import ManualClock
from services.common.venue_profile import load_profile
from services.feed.chain_live import ChainLiveMarket
from services.feed.live_source import build_live_market
from services.feed.settings import DEFAULT_DATA_DIR, FeedSettings
from services.feed.velocity_accounts import PERP_MARKET, velocity_decoder
from services.feed.velocity_chain import VelocityChainReader
from services.venue_sim.accounts import ServedAccount
from services.venue_sim.velocity_markets import LABEL, reencoded_perp_markets
from tests.kit.feed_live_builders import NOW, LiveStubs, live_feed_server
from tests.kit.venue_sim_builders import SimAndWallet

SYMBOLS = ("SOL-PERP", "BTC-PERP", "ETH-PERP")   # market indices 0, 1, 2
FUNDING_PAUSED = 0b0010_0000                      # ExchangeStatus::FundingPaused
UPDATE_FUNDING = 0b1                              # PerpOperation::UpdateFunding
HOURS_A_YEAR_IN_PERCENT = 24 * 365 * 100


def latest_reencoded(symbol: str) -> dict[str, Any]:
    decoder = velocity_decoder()
    markets = [decoder.decode_as(PERP_MARKET, buffer)
               for buffer, _ in reencoded_perp_markets(DEFAULT_DATA_DIR)]
    return max((m for m in markets if bytes(m["name"]).strip(b"\x00 ").decode() == symbol),
               key=lambda m: m["amm"]["last_update_slot"])


Serve = Callable[..., None]


@pytest.fixture
def serve(sim: SimAndWallet) -> Serve:
    """Puts a Velocity State and the three markets into the stand-in's store."""
    reader = VelocityChainReader(None, market_indexes=[])   # type: ignore[arg-type]  # addresses
    decoder = velocity_decoder()

    def put(exchange_status: int = 0, edit: Callable[[dict[str, Any]], None] | None = None,
            ) -> None:
        state = decoder.blank("State")
        state["exchange_status"], state["number_of_markets"] = exchange_status, len(SYMBOLS)
        sim.venue.store.put(ServedAccount(
            reader.state_address, decoder.encode("State", state), reader.program_id, "State",
            "SYNTHETIC", "a Velocity State encoded from its IDL"))
        for index, symbol in enumerate(SYMBOLS):
            values = latest_reencoded(symbol)
            if edit is not None:
                edit(values)
            sim.venue.store.put(ServedAccount(
                reader.market_address(index), decoder.encode(PERP_MARKET, values),
                reader.program_id, "PerpMarket", "SYNTHETIC", LABEL))

    return put


@pytest.fixture
async def velocity(sim: SimAndWallet) -> AsyncIterator[ChainLiveMarket]:
    settings = FeedSettings(feed_source="drift", rpc_url=sim.sim.rpc_url,
                            venue_profile="velocity", rpc_retry_delays_sec="")
    # The profile stays refused until the executor trades Velocity; the feed's mode is tested.
    profile = load_profile("velocity")
    market = build_live_market(settings, profile, ManualClock(NOW))
    try:
        yield market
    finally:
        await market.close()


@pytest.fixture
async def stubs(velocity: ChainLiveMarket) -> AsyncIterator[LiveStubs]:
    async with live_feed_server(velocity) as running:
        yield running


async def table(stubs: LiveStubs) -> feed_pb2.ListFundingMarketsResponse:
    return await stubs.feed.ListFundingMarkets(
        feed_pb2.ListFundingMarketsRequest(include_untradable=True))


async def test_the_velocity_profile_lists_velocity_s_markets_with_its_own_next_rate(
    stubs: LiveStubs, serve: Serve,
) -> None:
    serve()
    reply = await table(stubs)
    assert reply.source == "velocity"
    assert sorted(m.symbol for m in reply.markets) == sorted(SYMBOLS)
    for market in reply.markets:
        assert market.tradable and market.rate_source == "onchain_last_settled"
        # The re-encoded accounts carry no ramp slope: the program flattens every premium to
        # its offset, the floor of 10.95 % a year.
        apr = Decimal(market.estimated_next_rate_1h) * HOURS_A_YEAR_IN_PERCENT
        assert Decimal("10.94") < apr < Decimal("10.952"), market.symbol
    notes = " ".join(reply.model_notes)
    assert "in USDT, Velocity's quote" in notes and "Velocity's own rules" in notes
    assert "decoded by Velocity's IDL" in notes


async def test_a_market_whose_funding_update_is_paused_has_no_estimate_and_is_not_tradable(
    stubs: LiveStubs, serve: Serve,
) -> None:
    def pause_funding(values: dict[str, Any]) -> None:
        values["paused_operations"] |= UPDATE_FUNDING

    serve(edit=pause_funding)
    for market in (await table(stubs)).markets:
        assert (market.status, market.tradable) == ("active", False)
        assert market.not_tradable_reason == (
            "funding updates are paused on this market (paused_operations)")
        assert market.estimated_next_rate_1h == ""


@pytest.mark.parametrize(("status", "tradable", "says"), [
    (FUNDING_PAUSED, False, "funding_paused"),
    (0xFF, False, "the venue program is paused"),
    (0b0000_0001, True, "deposit_paused"),   # deposits paused: positions still earn funding
])
async def test_the_state_s_paused_operations_are_shown_on_the_rows(
    stubs: LiveStubs, serve: Serve, status: int, tradable: bool, says: str,
) -> None:
    serve(exchange_status=status)
    reply = await table(stubs)
    assert any(says in note for note in reply.model_notes)
    for market in reply.markets:
        assert market.tradable == tradable
        assert tradable or says in market.not_tradable_reason
        funding_runs = not status & FUNDING_PAUSED
        assert (market.estimated_next_rate_1h != "") == funding_runs


async def test_get_price_answers_the_velocity_market_s_oracle_and_twap(
    stubs: LiveStubs, serve: Serve,
) -> None:
    serve()
    sol = latest_reencoded("SOL-PERP")
    price = (await stubs.feed.GetPrice(feed_pb2.GetPriceRequest(market="SOL-PERP"))).price
    twap = sol["market_stats"]["historical_oracle_data"]["last_oracle_price_twap"]
    assert Decimal(price.oracle_twap) == Decimal(twap) / 10**6
    assert Decimal(price.oracle_price) > 0 and price.price_source == "onchain"


async def test_without_a_velocity_state_the_table_is_unavailable_and_says_why(
    stubs: LiveStubs,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await table(stubs)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "Velocity markets could not be read" in (refused.value.details() or "")
    assert "no Velocity State" in (refused.value.details() or "")
