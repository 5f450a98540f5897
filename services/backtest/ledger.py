"""What a backtest records: each trade, and each market-hour's funding with the equity after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class TradeRecord:
    time: datetime
    market: str
    kind: str            # perp_open, perp_close, spot_buy, ...
    side: str            # long / short
    size: Decimal
    price: Decimal
    oracle_price: Decimal
    fee_usd: Decimal
    slippage_usd: Decimal   # |fill price - oracle| x size: what the fill cost against the oracle
    reason: str


@dataclass(frozen=True)
class Refusal:
    """An order the engine's gates refused: what the strategy asked and why it did not trade."""

    time: datetime
    market: str
    kind: str            # perp_open, spot_buy, ...
    side: str
    size: Decimal
    gate: str            # the gate that refused it: profitability, leverage, balance, ...
    code: str            # its error code, as the service answers it: UNPROFITABLE, ...
    reason: str


@dataclass(frozen=True)
class LedgerRow:
    """One hour of one market a position was held in: what it paid and where it came from."""

    time: datetime          # the hour's start; the payment settles at its end
    market: str
    rate_1h: Decimal
    rate_source: str        # recorded_daily_average, imported_hourly, snapshot_held
    price: Decimal          # the oracle price the payment used
    price_source: str       # snapshot_held or scenario
    position: Decimal       # signed base size held through the hour (negative: short)
    funding_usd: Decimal    # received (+) or paid (-)
    equity_usd: Decimal     # everything held, after the payment


@dataclass
class Ledger:
    trades: list[TradeRecord]
    hours: list[LedgerRow]
    equity_curve: list[tuple[datetime, Decimal]]
    refusals: list[Refusal] = field(default_factory=list)
