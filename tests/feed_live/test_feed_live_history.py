"""Funding history from the Data API stand-in, in both of its shapes, cached for the TTL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from services.common.clock import ManualClock
from services.common.errors import DomainError, ErrorCode
from services.feed.chain_live import HISTORY_SOURCE, ChainLiveMarket
from tests.kit.feed_builders import recorded_daily_rate
from tests.kit.feed_live_builders import live_market
from tests.kit.venue_sim_builders import SimAndWallet

FIRST_HOUR = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("shape", ["scaled", "legacy"])
async def test_history_is_read_from_the_data_api_in_either_shape(
    sim: SimAndWallet, clock: ManualClock, shape: str,
) -> None:
    market = live_market(sim, clock, data_api_shape=shape)
    try:
        rows = await market.funding_history("SOL-PERP", None, None, 0)
    finally:
        await market.close()
    # 73 recorded days of 24 hours, served at the daily average, oldest first
    assert len(rows) == 73 * 24
    assert rows[0].period_start == FIRST_HOUR
    assert [r.period_start for r in rows] == sorted(r.period_start for r in rows)
    # fundingRate was rounded to an integer of 1e-9 USD by the API, so equal to ~1e-9 relative
    expected = recorded_daily_rate("SOL-PERP", "2026-01-10")
    assert abs(rows[0].rate_1h - expected) <= abs(expected) * Decimal("1e-6")
    assert rows[0].oracle_twap == Decimal("85.043706")
    assert rows[0].source == HISTORY_SOURCE
    assert rows[0].apr == rows[0].rate_1h * 24 * 365 * 100


async def test_both_shapes_give_the_same_hours(sim: SimAndWallet, clock: ManualClock) -> None:
    answers = []
    for shape in ("scaled", "legacy"):
        market = live_market(sim, clock, data_api_shape=shape)
        try:
            answers.append(await market.funding_history("ETH-PERP", None, None, 0))
        finally:
            await market.close()
    scaled, legacy = answers
    assert [(r.period_start, r.rate_1h, r.oracle_twap) for r in scaled] == [
        (r.period_start, r.rate_1h, r.oracle_twap) for r in legacy]


async def test_auto_falls_back_to_the_legacy_shape_when_the_scaled_one_is_refused(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    async with httpx.AsyncClient() as direct:
        legacy_body = (await direct.get(
            f"{sim.sim.data_api_url}/fundingRates", params={"marketName": "BTC-PERP"})).text
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.startswith("/market/"):
            return httpx.Response(404, text="not found")
        return httpx.Response(200, text=legacy_body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    market = live_market(sim, clock, data_api_url="http://data.api.test",
                         data_api_client=client)
    try:
        rows = await market.funding_history("BTC-PERP", None, None, 0)
    finally:
        await market.close()
    assert asked == ["/market/BTC-PERP/fundingRates", "/fundingRates"]
    assert len(rows) == len(json.loads(legacy_body)["fundingRates"])


async def test_history_is_cached_for_the_ttl_and_the_last_one_served_when_the_api_fails(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    async with httpx.AsyncClient() as direct:
        body = (await direct.get(f"{sim.sim.data_api_url}/market/SOL-PERP/fundingRates",
                                 params={"limit": 5000})).text
    calls = {"n": 0, "down": False}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(503) if calls["down"] else httpx.Response(200, text=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    market = live_market(sim, clock, data_api_url="http://data.api.test",
                         data_api_client=client)
    try:
        first = await market.funding_history("SOL-PERP", None, None, 0)
        clock.advance(299)
        assert await market.funding_history("SOL-PERP", None, None, 0) == first
        assert calls["n"] == 1
        calls["down"] = True
        clock.advance(1)
        assert await market.funding_history("SOL-PERP", None, None, 0) == first
        assert calls["n"] == 1 + 4       # one read: an attempt and three retries
    finally:
        await market.close()


async def test_history_holds_only_settled_hours_within_start_and_end_up_to_the_limit(
    sim: SimAndWallet,
) -> None:
    # on a clock inside the data: 2026-02-01 10:30, hours up to 09:00 have settled
    inside = ManualClock(datetime(2026, 2, 1, 10, 30, tzinfo=UTC))
    market = live_market(sim, inside)
    try:
        settled = await market.funding_history("SOL-PERP", None, None, 0)
        assert settled[-1].period_start == datetime(2026, 2, 1, 9, tzinfo=UTC)
        window = await market.funding_history(
            "SOL-PERP", FIRST_HOUR + timedelta(hours=2), FIRST_HOUR + timedelta(hours=5), 0)
        assert [r.period_start.hour for r in window] == [2, 3, 4]
        assert len(await market.funding_history("SOL-PERP", None, None, 7)) == 7
    finally:
        await market.close()


async def test_bad_history_requests_are_refused_with_a_reason(live: ChainLiveMarket) -> None:
    with pytest.raises(DomainError) as unknown:
        await live.funding_history("DOGE-PERP", None, None, 0)
    assert unknown.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as backwards:
        await live.funding_history("SOL-PERP", FIRST_HOUR, FIRST_HOUR - timedelta(hours=1), 0)
    assert backwards.value.code == ErrorCode.INVALID_ARGUMENT


async def test_without_a_data_api_history_is_a_failed_precondition(
    sim: SimAndWallet, clock: ManualClock,
) -> None:
    market = live_market(sim, clock, data_api_url="")
    try:
        with pytest.raises(DomainError) as refused:
            await market.funding_history("SOL-PERP", None, None, 0)
    finally:
        await market.close()
    assert refused.value.code == ErrorCode.FAILED_PRECONDITION
    assert "data_api_url" in refused.value.message
