"""Oracle staleness in the live driver's status: more than ORACLE_MAX_STALE_SLOTS (2) slots
behind the RPC is stale, reported in milliseconds (400 ms a slot) where the engine's 300 ms
latency kill-switch sees it; within the limit it adds nothing."""

from __future__ import annotations

from services.executor.drift.driver import DriftDriver
from services.executor.settings import ExecutorSettings
from tests.kit.executor_live_builders import LiveRig

LATENCY_LIMIT_MS = 300  # the engine's kill-switch (README: "above 300 ms blocks trades")


async def set_oracle_age(rig: LiveRig, slots: int) -> None:
    await rig.post("/_control/oracle", {"market_index": 0, "price": "85", "stale_slots": slots})


async def test_an_oracle_more_than_two_slots_behind_is_reported_past_the_latency_limit(
    rig: LiveRig, driver: DriftDriver
) -> None:
    await set_oracle_age(rig, 2)
    assert (await driver.status()).latency_ms < LATENCY_LIMIT_MS
    await set_oracle_age(rig, 3)
    stale = await driver.status()
    assert stale.latency_ms >= 3 * 400 > LATENCY_LIMIT_MS


def test_the_executor_judges_oracles_stale_after_two_slots_by_default() -> None:
    assert ExecutorSettings().oracle_max_stale_slots == 2
