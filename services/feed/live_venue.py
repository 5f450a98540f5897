"""What the live source (chain_live.py) needs of a venue: a reader of its chain and the rows it
makes from what was read. Drift's are drift_chain.py and drift_live_rows.DriftRows; Velocity's
are velocity_live.py. The source's caching, failures, prices and clock are the venue's to share.

| member | required | job |
| --- | --- | --- |
| `LiveReader.read_markets()` | yes | one read: slot, decoded markets, missing indices, oracles |
| `LiveReader.read_oracles(markets)` | yes | the oracle prices of these markets (one call) |
| `LiveReader.close()` | yes | release the RPC connection |
| `LiveRows.source_name`, `venue_label`, ... | yes | the table's `source`; words in messages |
| `LiveRows.live_market(...)` | yes | one market's snapshot, oracle, mark price and row |
| `LiveRows.live_oracle(...)` | yes | a market's oracle reading (or its account's last price) |
| `LiveRows.notes(chain)` | yes | how this venue's table was read and estimated |
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from services.common.oracle_reads import OracleReadings
from services.feed.drift_live_rows import LiveMarket, LiveOracle


class LiveChain(Protocol):
    slot: int
    markets: list[Any]
    missing: list[int]
    oracles: OracleReadings


class LiveReader(Protocol):
    async def read_markets(self) -> Any: ...   # a LiveChain

    async def read_oracles(self, markets: Sequence[Any]) -> OracleReadings: ...

    async def close(self) -> None: ...


class LiveRows(Protocol):
    source_name: str    # the table's `source`
    venue_label: str    # "Drift": in messages
    decoded_by: str     # "driftpy": in the notes
    market_list: str    # where the market indices asked for come from: in the notes

    def market_index(self, account: Any) -> int: ...

    async def live_market(self, account: Any, chain: Any, now: datetime,
                          source: str) -> LiveMarket: ...

    def live_oracle(self, account: Any, readings: OracleReadings) -> LiveOracle: ...

    def notes(self, chain: Any) -> list[str]: ...
