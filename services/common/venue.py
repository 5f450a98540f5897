"""The venue's domain types, in Decimals and datetimes, no protobuf: what the executor's drivers
answer, and what the engine's decisions and the backtester read."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

WALLET_ACCOUNT = "paper-wallet"
QUOTE_MARKET = "USDC"  # OrderResult.market of deposits and withdrawals
SPOT_MARKET = "SOL"  # OrderResult.market of the spot leg
# The spot leg is priced on this market's oracle: the feed has no separate spot price.
SPOT_PRICE_MARKET = "SOL-PERP"


class Side(StrEnum):
    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG


class OrderKind(StrEnum):
    PERP_OPEN = "perp_open"
    PERP_CLOSE = "perp_close"
    PERP_REBALANCE = "perp_rebalance"
    SPOT_BUY = "spot_buy"
    SPOT_SELL = "spot_sell"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    SETTLE_PNL = "settle_pnl"


class OrderStatus(StrEnum):
    FILLED = "filled"
    REJECTED = "rejected"  # refused before or by the venue; nothing changed
    FAILED = "failed"  # attempted and failed; nothing changed
    # Live venues only: sent, not yet confirmed; and sent, outcome undeterminable (a human
    # checks the signature in the error details).
    PENDING = "pending"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OrderResult:
    """The venue's answer to one order, keyed by the caller's client order id."""

    client_order_id: str
    kind: OrderKind
    status: OrderStatus
    market: str
    side: Side | None = None
    requested_size: Decimal | None = None
    filled_size: Decimal | None = None
    fill_price: Decimal | None = None
    oracle_price: Decimal | None = None
    slippage: Decimal | None = None
    fee: Decimal | None = None
    notional: Decimal | None = None
    tx_signature: str = ""
    error_code: str = ""
    error_message: str = ""
    executed_at: datetime | None = None
    replayed: bool = False
    error_details: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def refused(
        cls,
        order: OrderIntent,
        code: str,
        message: str,
        *,
        status: OrderStatus = OrderStatus.REJECTED,
        at: datetime | None = None,
    ) -> OrderResult:
        return cls(
            client_order_id=order.client_order_id,
            kind=order.kind,
            status=status,
            market=order.market,
            side=order.side,
            requested_size=order.size,
            error_code=str(code),
            error_message=message,
            executed_at=at,
        )

    def as_replayed(self) -> OrderResult:
        return replace(self, replayed=True)


@dataclass(frozen=True)
class OrderIntent:
    """What an order asks for, for the record of a refusal: kind, market, side and size."""

    client_order_id: str
    kind: OrderKind
    market: str
    side: Side | None = None
    size: Decimal | None = None


@dataclass(frozen=True)
class OpenOrder:
    client_order_id: str
    sub_account: int
    market: str
    side: Side
    size: Decimal
    price_limit: Decimal | None = None
    reduce_only: bool = False
    kind: OrderKind = OrderKind.PERP_OPEN


@dataclass(frozen=True)
class CloseOutcome:
    result: OrderResult
    settlement: OrderResult | None = None


@dataclass(frozen=True)
class FundingPayment:
    payment_id: str
    market: str
    period_start: datetime
    rate_1h: Decimal
    side: Side
    size: Decimal
    oracle_price: Decimal
    amount: Decimal  # USD, positive when received


@dataclass(frozen=True)
class PositionState:
    market: str
    side: Side
    size: Decimal  # positive; side gives the sign
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    settled_pnl: Decimal
    total_pnl: Decimal
    liq_price: Decimal | None
    notional: Decimal
    funding_pnl: Decimal


@dataclass(frozen=True)
class AccountState:
    account: str
    sub_account: int
    venue: str
    collateral: Decimal
    free_collateral: Decimal
    equity: Decimal
    health_ratio: Decimal
    leverage: Decimal
    margin_requirement: Decimal
    initial_margin_requirement: Decimal
    quote_balance: Decimal
    wallet_usdc: Decimal
    wallet_sol: Decimal
    as_of: datetime | None   # None: an answer from a build that did not say
    positions: list[PositionState] = field(default_factory=list)
    funding_payments: list[FundingPayment] = field(default_factory=list)


@dataclass(frozen=True)
class VenueStatus:
    venue: str
    connected: bool
    latency_ms: float
    trading_halted: bool
    halt_reason: str
    account: str
    as_of: datetime | None
