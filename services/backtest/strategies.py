"""The strategies a backtest can run. `hold`: one position from start to end, the baseline."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.backtest.runner import Venue
from services.executor.domain import Side


@dataclass
class Hold:
    """Opens `size` of `market` on `side` at the first hour and closes it after the last one:
    the round trip's fees and slippage are in the result, as they would be for a trader."""

    market: str
    side: Side
    size: Decimal
    name: str = "hold"
    _opened: bool = False

    async def on_hour(self, venue: Venue) -> None:
        venue.events += 1
        if not self._opened:
            await venue.open(self.market, self.side, self.size, "hold: enter at the start")
            self._opened = True

    async def finish(self, venue: Venue) -> None:
        await venue.close(self.market, "hold: leave at the end")
