"""The table is cached for its TTL; when the RPC fails the last good table is served with its
age, and the source recovers once the RPC answers again. Reads retry after 1, 2 and 4 s."""

from __future__ import annotations

import pytest

from services.common.clock import ManualClock
from services.common.errors import DomainError, ErrorCode
from services.feed.chain_live import ChainLiveMarket
from tests.kit.feed_live_builders import BACKOFF_SECONDS, TTL_SECONDS, RecordedSleep, live_market
from tests.kit.venue_sim_builders import SimAndWallet


async def test_when_the_rpc_fails_the_last_table_is_served_with_its_age_then_it_recovers(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock, sleep: RecordedSleep,
) -> None:
    first = await live.funding_table(include_untradable=False)
    sim.venue.control.set(drop=["*"])
    clock.advance(TTL_SECONDS + 1)
    stale = await live.funding_table(include_untradable=False)
    assert [row.symbol for row in stale.rows] == [row.symbol for row in first.rows]
    assert stale.data_age_seconds == TTL_SECONDS + 1
    assert stale.as_of == first.as_of
    assert any(note.startswith("STALE: the last refresh failed") for note in stale.notes)
    assert sleep.waits == [1.0, 2.0, 4.0]

    # within the backoff the RPC is not asked again; the age keeps growing
    clock.advance(BACKOFF_SECONDS - 1)
    again = await live.funding_table(include_untradable=False)
    assert again.data_age_seconds == TTL_SECONDS + BACKOFF_SECONDS
    assert sleep.waits == [1.0, 2.0, 4.0]

    sim.venue.control.reset()
    clock.advance(1)
    recovered = await live.funding_table(include_untradable=False)
    assert recovered.data_age_seconds == 0
    assert recovered.as_of == clock.now()
    assert not any(note.startswith("STALE") for note in recovered.notes)


async def test_with_no_table_yet_an_rpc_failure_is_unavailable_not_a_crash(
    sim: SimAndWallet, live: ChainLiveMarket,
) -> None:
    sim.venue.control.set(drop=["*"])
    with pytest.raises(DomainError) as refused:
        await live.funding_table(include_untradable=False)
    assert refused.value.code == ErrorCode.VENUE_UNAVAILABLE
    assert "could not be read from the RPC" in refused.value.message


async def test_a_read_that_fails_then_answers_within_its_retries_succeeds(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    sim.venue.control.set(drop=["*"])
    # the RPC comes back during the second wait
    sleep = RecordedSleep(on_wait=lambda count: count == 2 and sim.venue.control.reset())
    market = live_market(sim, clock, sleep=sleep)
    try:
        table = await market.funding_table(include_untradable=False)
    finally:
        await market.close()
    assert sleep.waits == [1.0, 2.0]
    assert table.stats.market_count == 9 and table.data_age_seconds == 0


async def test_prices_are_reread_after_the_refresh_interval_and_kept_when_the_rpc_fails(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    first = await live.price("SOL-PERP")
    sim.venue.control.set(drop=["*"])
    clock.advance(5)
    held = await live.price("SOL-PERP")
    assert held.oracle == first.oracle
    # the age grows by the wall seconds since the reading
    assert held.oracle_age_seconds - first.oracle_age_seconds >= 5


async def test_a_price_held_through_rpc_failures_keeps_the_time_it_was_read_and_ages(
    sim: SimAndWallet, live: ChainLiveMarket, clock: ManualClock,
) -> None:
    first = await live.price("SOL-PERP")
    read_at = first.as_of
    sim.venue.control.set(drop=["*"])
    for step in range(1, 5):
        clock.advance(4)  # past the price refresh interval: every call asks the RPC again
        held = await live.price("SOL-PERP")
        assert held.oracle == first.oracle
        assert held.as_of == read_at, "as_of is when the price was read from the chain"
        assert held.oracle_age_seconds - first.oracle_age_seconds >= 4 * step
        clock.advance(1)  # within the interval: the held price, one second older
        again = await live.price("SOL-PERP")
        assert again.as_of == read_at
        assert again.oracle_age_seconds > held.oracle_age_seconds
    sim.venue.control.set(drop=[])
    clock.advance(4)
    fresh = await live.price("SOL-PERP")
    assert fresh.as_of == clock.now()
