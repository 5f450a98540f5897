"""The vault's domain: what it is asked to record, and the rules a trade's status follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Context, Decimal
from enum import Enum, StrEnum

ZERO = Decimal(0)

# Sums of ledger amounts must not round: 120 significant digits cover any sum of values that
# the wire accepts (at most 16 integer digits and 40 decimal places each).
EXACT = Context(prec=120)


class TradeState(StrEnum):
    """A trade's status, stored by these names (the proto's TradeStatus without its prefix)."""

    PENDING = "PENDING"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


# The venue's answer may complete a pending trade any way; an unknown outcome may later turn
# out filled or failed. Nothing else moves: a final trade is history.
LEGAL_TRANSITIONS: dict[TradeState, frozenset[TradeState]] = {
    TradeState.PENDING: frozenset(
        {TradeState.FILLED, TradeState.REJECTED, TradeState.FAILED, TradeState.UNKNOWN}
    ),
    TradeState.UNKNOWN: frozenset({TradeState.FILLED, TradeState.FAILED}),
    TradeState.FILLED: frozenset(),
    TradeState.REJECTED: frozenset(),
    TradeState.FAILED: frozenset(),
}
COMPLETION_STATES = frozenset(LEGAL_TRANSITIONS[TradeState.PENDING])


@dataclass(frozen=True)
class VaultKey:
    account: str
    sub_account: int

    def __str__(self) -> str:
        return f"{self.account}/{self.sub_account}"


@dataclass(frozen=True)
class TradeIntent:
    """A trade about to be sent: written as PENDING before it leaves the engine."""

    key: VaultKey
    client_order_id: str
    kind: str
    market: str
    side: str
    requested_size: Decimal | None
    price: Decimal | None
    notional: Decimal | None
    source: str
    created_at: datetime | None  # the caller's time when it sent one, else the vault's


@dataclass(frozen=True)
class TradeOutcome:
    """What the venue answered for one client order id."""

    status: TradeState
    market: str
    side: str
    filled_size: Decimal | None
    price: Decimal | None
    fee: Decimal | None
    notional: Decimal | None
    slippage: Decimal | None
    tx_signature: str
    error_code: str
    error_message: str
    error_details: dict[str, str] = field(default_factory=dict)
    executed_at: datetime | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """What makes two answers the same outcome: repeating one of them changes nothing."""
        return (self.status, self.filled_size or ZERO, self.price, self.tx_signature)


class Verdict(Enum):
    APPLY = "apply"
    ALREADY_DONE = "already done"
    REFUSE = "refuse"


def judge_completion(
    current: TradeState, stored: tuple[object, ...], outcome: TradeOutcome
) -> Verdict:
    """Decides whether `outcome` may complete a trade that is `current` with `stored` outcome."""
    if current is not TradeState.PENDING and outcome.status is current:
        # The same answer twice (a retry, a replayed order) is harmless; a different one
        # for a final trade means two stories about one order, which a human must look at.
        if current is TradeState.UNKNOWN or stored == outcome.fingerprint():
            return Verdict.ALREADY_DONE
        return Verdict.REFUSE
    if outcome.status in LEGAL_TRANSITIONS[current]:
        return Verdict.APPLY
    return Verdict.REFUSE


@dataclass(frozen=True)
class PositionRecord:
    market: str
    side: str
    size: Decimal
    entry_price: Decimal | None


@dataclass(frozen=True)
class FundingRecord:
    payment_id: str
    market: str
    period_start: datetime
    rate_1h: Decimal | None
    side: str
    size: Decimal | None
    oracle_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class AccountSync:
    """The venue's view of one sub-account, pushed in by the engine."""

    collateral: Decimal
    initial_margin: Decimal
    positions: tuple[PositionRecord, ...]
    funding_payments: tuple[FundingRecord, ...]
    as_of: datetime | None
    # Logged with the sync (property 47); the vault stores none of them.
    health_ratio: str = ""
    leverage: str = ""
    free_collateral: str = ""


@dataclass(frozen=True)
class VaultView:
    """One vault as GetVaultStatus shows it."""

    vault_id: str
    key: VaultKey
    balance: Decimal
    allocated_capital: Decimal
    realized_funding_pnl: Decimal
    positions: tuple[PositionRecord, ...]
    last_synced_at: datetime | None
    pending_trades: int
    trade_count: int | None  # None: not counted (a sync's answer)
    created_at: datetime

    @property
    def available_capital(self) -> Decimal:
        """Property 34: what is not held as margin, never below zero."""
        return max(ZERO, EXACT.subtract(self.balance, self.allocated_capital))


@dataclass(frozen=True)
class SyncOutcome:
    view: VaultView
    funding_payments_recorded: int
    balance_change: Decimal


@dataclass(frozen=True)
class StoredTrade:
    """A trade as the vault holds it, with the account it belongs to."""

    client_order_id: str
    vault_id: str
    account: str
    sub_account: int
    kind: str
    status: str
    market: str
    side: str
    requested_size: Decimal | None
    filled_size: Decimal | None
    price: Decimal | None
    fee: Decimal | None
    notional: Decimal | None
    slippage: Decimal | None
    tx_signature: str
    source: str
    error_code: str
    error_message: str
    error_details: dict[str, str]
    created_at: datetime
    updated_at: datetime
    executed_at: datetime | None
