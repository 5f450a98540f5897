"""Real oracles post a price every slot; the recorded ones were frozen when they were recorded.

For a running system (`make run-live-sim`) the keeper re-posts every perp market's oracle at the
chain's current slot, holding its current price, so live mode's staleness gate sees a working
venue. An oracle a test made stale on purpose (POST /_control/oracle with stale_slots) is left
alone. Off unless SIM_ORACLE_KEEPER_SEC is set: tests decide oracle freshness themselves.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from driftpy.accounts.oracle import decode_oracle
from driftpy.constants.numeric_constants import PRICE_PRECISION

from services.venue_sim.market_switches import set_oracle
from services.venue_sim.venue import Venue

log = logging.getLogger(__name__)


def refresh_oracles(venue: Venue) -> int:
    """Re-posts each fresh perp oracle at the current slot; answers how many."""
    store, slot, refreshed = venue.store, venue.chain.slot(), 0
    for account in list(store.accounts.values()):
        if account.kind != "PerpMarket":
            continue
        oracle = store.market_oracle(account.address)
        if store.oracle_stale_slots.get(oracle.address, 0) > 0:
            continue
        try:
            price = Decimal(decode_oracle(store.accounts[oracle.address].data, oracle.source)
                            .price) / PRICE_PRECISION
            set_oracle(store, slot, oracle.market_index, str(price))
        except (KeyError, ValueError):
            continue  # an oracle kind the stand-in cannot rebuild keeps its recorded bytes
        refreshed += 1
    return refreshed


async def keep_oracles_fresh(venue: Venue, interval_seconds: float) -> None:
    while True:
        refreshed = refresh_oracles(venue)
        log.debug("oracles re-posted", extra={"count": refreshed})
        await asyncio.sleep(interval_seconds)
