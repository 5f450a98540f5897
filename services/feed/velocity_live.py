"""The feed's Velocity mode: the live source (chain_live.ChainLiveMarket) on Velocity's chain.

Each refresh reads the program's State first (its paused operations, and `number_of_markets`:
the market indices asked for are 0 .. n-1 unless the reader is given a list), then the markets
and their oracles (velocity_chain.py). A row is velocity_rows' row plus the next-rate estimate of
Velocity's own rules (velocity_next_funding.py, for longs, as Drift's rows give driftpy's). Paused
funding (the State's FundingPaused bit or the market's UpdateFunding bit) leaves the estimate
empty; a State that stops perp orders or funding makes every row untradable, with its reason, as
a market's paused funding does on Drift's rows. Prices and amounts are in the profile's quote
(USDT), which the notes say: the table's fields are named for USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from driftpy.types import OraclePriceData

from services.common.exchange_status import PERP_ORDER, ExchangeBits
from services.common.oracle_reads import OracleReadings
from services.feed.drift_live_rows import LiveMarket, LiveOracle
from services.feed.market_table import FundingMarketRow
from services.feed.velocity_chain import VelocityChainReader, VelocityMarket, VelocityState
from services.feed.velocity_next_funding import next_funding
from services.feed.velocity_rows import mark_price, mark_price_raw, velocity_row

# The State's bits that stop what the table is for: opening a position, or being paid funding.
STOPS_FUNDING_CARRY = PERP_ORDER | ExchangeBits.FUNDING_PAUSED


@dataclass(frozen=True)
class VelocityChain:
    """One read of Velocity's chain (live_venue.LiveChain) and the State it was read under."""

    slot: int
    markets: list[VelocityMarket]
    missing: list[int]
    oracles: OracleReadings
    state: VelocityState


class VelocityLiveReader:
    """live_venue.LiveReader over VelocityChainReader: the State, then the markets it counts."""

    def __init__(self, reader: VelocityChainReader,
                 market_indexes: Sequence[int] | None = None) -> None:
        self._reader = reader
        self._indexes = None if market_indexes is None else list(market_indexes)

    async def read_markets(self) -> VelocityChain:
        state = await self._reader.read_state()
        indexes = range(state.number_of_markets) if self._indexes is None else self._indexes
        read = await self._reader.read_markets(indexes)
        return VelocityChain(max(read.slot, state.slot), read.markets, read.missing,
                             read.oracles, state)

    async def read_oracles(self, markets: Sequence[VelocityMarket]) -> OracleReadings:
        return await self._reader.read_oracles(markets)

    async def close(self) -> None:
        await self._reader.close()


def velocity_live_oracle(market: VelocityMarket, readings: OracleReadings) -> LiveOracle:
    """The oracle account's reading, or the price the program last recorded for the market."""
    oracle = market.oracle
    data = readings.prices.get(oracle[0]) if oracle is not None else None
    last_update_slot = market.snapshot.last_update_slot
    if data is not None and data.price > 0:
        return LiveOracle(data, int(data.slot or last_update_slot), True)
    history = market.values["market_stats"]["historical_oracle_data"]
    fallback = OraclePriceData(
        price=history["last_oracle_price"], slot=last_update_slot,
        confidence=history["last_oracle_conf"], twap=history["last_oracle_price_twap"],
        twap_confidence=0, has_sufficient_number_of_data_points=True,
    )
    return LiveOracle(fallback, last_update_slot, False)


def with_program_halt(row: FundingMarketRow, state: VelocityState) -> FundingMarketRow:
    """A tradable row is not, when the State stops perp orders or funding."""
    if not row.tradable or not state.exchange_status & STOPS_FUNDING_CARRY:
        return row
    return replace(row, tradable=False, not_tradable_reason=state.halt_reason)


class VelocityRows:
    """Velocity's rows for the live source (live_venue.LiveRows)."""

    source_name = "velocity"
    venue_label = "Velocity"
    decoded_by = "Velocity's IDL (config/venues/idl/velocity.json)"
    market_list = "the program's State (number_of_markets)"

    def __init__(self, quote_symbol: str = "USDT") -> None:
        self._quote = quote_symbol

    def market_index(self, account: VelocityMarket) -> int:
        return account.snapshot.market_index

    def live_oracle(self, account: VelocityMarket, readings: OracleReadings) -> LiveOracle:
        return velocity_live_oracle(account, readings)

    async def live_market(self, account: VelocityMarket, chain: VelocityChain, now: datetime,
                          source: str) -> LiveMarket:
        market = replace(account, snapshot=replace(account.snapshot, source=source))
        oracle = velocity_live_oracle(market, chain.oracles)
        estimate = next_funding(market.values, oracle.data.price, mark_price_raw(market),
                                int(now.timestamp()), chain.state.exchange_status)
        row = replace(velocity_row(market, chain.oracles),
                      estimated_next_rate_1h=estimate.rate_long_1h)
        return LiveMarket(market, market.snapshot, oracle, mark_price(market),
                          with_program_halt(row, chain.state))

    def notes(self, chain: Any) -> list[str]:
        notes = [
            "rate_1h is each market's last settled funding rate (last_funding_rate over the "
            "oracle TWAP; rate_period_start is the hour it covers); estimated_next_rate_1h is "
            "the next hour's rate for longs by Velocity's own rules (velocity_funding.py: the "
            "10.95 % a year floor, the market's dead zone and ramp, the tier's clamp, the AMM "
            "paying at most a third of its fees), from TWAPs projected to now with the AMM "
            "reserve price as mark price; empty where funding is paused.",
            f"Prices, open interest and volume are in {self._quote}, Velocity's quote (the "
            "fields are named for USD).",
        ]
        if chain.state.halt_reason:
            stops = bool(chain.state.exchange_status & STOPS_FUNDING_CARRY)
            notes.append(f"Velocity's State: {chain.state.halt_reason}"
                         f"{'; no market is tradable' if stops else ''}.")
        return notes
