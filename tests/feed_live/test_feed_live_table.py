"""The live markets table on the stand-in's recorded Drift accounts equals driftpy's numbers."""

from __future__ import annotations

import math
from decimal import Decimal

from driftpy.constants.numeric_constants import FUNDING_RATE_PRECISION, PRICE_PRECISION

from services.common.clock import ManualClock
from services.feed.chain_live import ChainLiveMarket
from services.feed.drift_live_rows import SECONDS_PER_SLOT
from tests.kit.feed_builders import recorded_summaries, replay_market
from tests.kit.feed_live_builders import (
    driftpy_estimate,
    driftpy_program,
    live_market,
    served_perp_markets,
)
from tests.kit.venue_sim_builders import SimAndWallet, fork_profile

SOL_ORACLE_SLOT = 405_286_914      # the SOL-PERP account's amm.last_update_slot
SIM_START_SLOT = 405_300_000       # tests.kit.venue_sim_builders.make_venue


async def test_rate_1h_is_each_recorded_accounts_last_settled_hourly_rate(
    live: ChainLiveMarket,
) -> None:
    table = await live.funding_table(include_untradable=True)
    summaries = recorded_summaries()
    checked = 0
    for row in table.rows:
        summary = summaries[row.symbol]
        if summary["hourly_rate_fraction"] is None:
            assert row.rate_1h == 0      # no oracle TWAP worth dividing by: nothing settled
            continue
        exact = (Decimal(summary["last_funding_rate"]) / FUNDING_RATE_PRECISION) / (
            Decimal(summary["last_oracle_price_twap"]) / PRICE_PRECISION)
        assert row.rate_1h == exact
        # the summary's float was computed in binary floating point: equal to 1e-12 relative
        assert math.isclose(row.rate_1h, summary["hourly_rate_fraction"], rel_tol=1e-12)
        checked += 1
    assert checked >= 9


async def test_open_interest_is_both_sides_at_the_oracle_price_and_volume_is_volume24h(
    live: ChainLiveMarket,
) -> None:
    table = await live.funding_table(include_untradable=False)
    sol = next(row for row in table.rows if row.symbol == "SOL-PERP")
    # (422,751.35 long + 425,175.12 short) SOL x 85.016475 USD
    assert sol.open_interest == Decimal("72087719.53859325")
    assert sol.volume_24h == Decimal("21702819.705585")
    assert sol.oracle_price == Decimal("85.016475")
    eth = next(row for row in table.rows if row.symbol == "ETH-PERP")
    assert eth.open_interest == (Decimal("3843.204") + Decimal("3843.223")) * Decimal("2024.725003")


async def test_the_estimated_next_rate_is_driftpys_own_estimate_on_the_same_account(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    table = await live.funding_table(include_untradable=True)
    assert len(table.rows) == 12
    async with driftpy_program(sim.sim.rpc_url) as program:
        for row in table.rows:
            expected = await driftpy_estimate(program, row.market_index, clock.now())
            assert row.estimated_next_rate_1h == expected, row.symbol
    # ETH-PERP is one of the accounts on which driftpy asserts without a mark price.
    eth = next(row for row in table.rows if row.symbol == "ETH-PERP")
    assert eth.estimated_next_rate_1h is not None and eth.estimated_next_rate_1h != 0


async def test_markets_of_driftpys_list_that_the_rpc_lacks_are_skipped(
    sim: SimAndWallet, live: ChainLiveMarket,
) -> None:
    table = await live.funding_table(include_untradable=True)
    assert {row.symbol for row in table.rows} == served_perp_markets(sim)
    assert any("not served by this RPC and are skipped" in note for note in table.notes)


async def test_asking_only_for_absent_markets_gives_an_empty_table_not_a_failure(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    market = live_market(sim, clock, market_indexes=[3, 5, 80])
    try:
        table = await market.funding_table(include_untradable=True)
    finally:
        await market.close()
    assert table.rows == [] and table.stats.market_count == 0


async def test_the_program_id_is_the_venue_profiles_not_drifts(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    # The stand-in serves Drift's program; a fork's profile looks at other addresses.
    market = live_market(sim, clock, profile=fork_profile())
    try:
        table = await market.funding_table(include_untradable=True)
    finally:
        await market.close()
    assert table.rows == []


async def test_prediction_markets_are_listed_only_on_request_and_never_tradable(
    live: ChainLiveMarket,
) -> None:
    default = await live.funding_table(include_untradable=False)
    everything = await live.funding_table(include_untradable=True)
    predictions = [row for row in everything.rows if row.contract_type == "prediction"]
    assert len(predictions) == 3
    assert all(not row.tradable and "not a perpetual" in row.not_tradable_reason
               for row in predictions)
    assert not any(row.contract_type == "prediction" for row in default.rows)


async def test_a_paused_funding_market_is_shown_paused_and_untradable(
    live: ChainLiveMarket,
) -> None:
    table = await live.funding_table(include_untradable=False)
    bonk = next(row for row in table.rows if row.symbol == "1MBONK-PERP")
    assert bonk.status == "funding_paused"
    assert not bonk.tradable and "funding is paused" in bonk.not_tradable_reason
    assert "1MBONK-PERP" not in await live.tradable_markets()


async def test_status_type_and_tradability_are_the_replays_for_the_same_accounts(
    live: ChainLiveMarket, tmp_path: object,
) -> None:
    replay = replay_market(tmp_path)  # type: ignore[arg-type]
    replayed = {row.symbol: row for row in replay.funding_table(True).rows}
    for row in (await live.funding_table(include_untradable=True)).rows:
        twin = replayed[row.symbol]
        assert (row.status, row.contract_type, row.contract_tier, row.tradable,
                row.not_tradable_reason, row.margin_ratio_initial, row.margin_ratio_maintenance
                ) == (twin.status, twin.contract_type, twin.contract_tier, twin.tradable,
                      twin.not_tradable_reason, twin.margin_ratio_initial,
                      twin.margin_ratio_maintenance)


async def test_a_status_change_on_chain_shows_after_the_cache_expires(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    await live.funding_table(include_untradable=False)
    sim.venue.store.set_perp_market_status(0, "FundingPaused")
    clock.advance(299)
    cached = await live.funding_table(include_untradable=False)
    assert next(r for r in cached.rows if r.symbol == "SOL-PERP").tradable
    assert cached.data_age_seconds == 299
    clock.advance(1)
    fresh = await live.funding_table(include_untradable=False)
    sol = next(r for r in fresh.rows if r.symbol == "SOL-PERP")
    assert sol.status == "funding_paused" and not sol.tradable
    assert fresh.data_age_seconds == 0


async def test_oracle_age_is_counted_in_slots_and_shown_at_0_4_seconds_per_slot(
    live: ChainLiveMarket,
) -> None:
    price = await live.price("sol-perp")
    assert price.oracle == Decimal("85.016475") and price.source == "onchain"
    assert price.oracle_age_slots >= SIM_START_SLOT - SOL_ORACLE_SLOT
    assert price.oracle_age_seconds == price.oracle_age_slots * SECONDS_PER_SLOT
    assert price.oracle_twap == Decimal("85.043706")   # the market's on-chain oracle TWAP
