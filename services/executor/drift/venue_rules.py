"""What the program's State and a market's status allow, and the price limit of an order.

The State's exchange_status bits are read in services/common/exchange_status.py.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from services.common.errors import DomainError, ErrorCode
from services.common.exchange_status import (  # noqa: F401  (the executor's names for them)
    DEPOSIT,
    PERP_ORDER,
    SETTLE,
    WITHDRAW,
    ExchangeBits,
    halt_reason,
    paused_operations,
)
from services.common.venue import Side

SLOT_MS = 400.0  # Solana's target slot time
# Stale beyond 2 slots (800 ms): one slot already exceeds the 300 ms latency kill-switch, so
# only an oracle that missed more than the usual one or two updates counts.
ORACLE_MAX_STALE_SLOTS = 2


def oracle_staleness_ms(rpc_slot: int, oracle_slot: int,
                        max_stale_slots: int = ORACLE_MAX_STALE_SLOTS) -> float:
    """How stale an oracle is, in ms, once it is more than `max_stale_slots` behind the RPC's
    slot; 0 within the limit (reported as latency, where the 300 ms kill-switch sees it)."""
    behind = rpc_slot - oracle_slot
    return behind * SLOT_MS if behind > max_stale_slots else 0.0


OPEN_STATUSES = {"Active"}
# A position can still be reduced in these (Drift allows reduce-only orders there).
REDUCE_STATUSES = {"Active", "ReduceOnly", "FundingPaused"}
PRICE_STEP = Decimal("0.000001")  # Drift PRICE_PRECISION 1e6


def require_operation(exchange_status: int, needed: ExchangeBits, what: str) -> None:
    blocked = exchange_status & needed
    if blocked:
        names = ", ".join(paused_operations(blocked))
        raise DomainError(
            ErrorCode.VENUE_HALTED,
            f"refusing to {what}: the venue program is paused ({names}; exchange_status "
            f"0x{exchange_status:02X})",
            exchange_status=f"0x{exchange_status:02X}",
        )


def variant(value: object) -> str:
    """anchorpy Rust enums are classes named by variant: MarketStatus.Active() -> "Active"."""
    return type(value).__name__


def require_market(symbol: str, index: int, status: str, contract_type: str,
                   *, increasing: bool) -> None:
    if contract_type != "Perpetual":
        raise DomainError(ErrorCode.MARKET_NOT_TRADABLE,
                          f"{symbol} is a {contract_type} market, not a perpetual")
    allowed = OPEN_STATUSES if increasing else REDUCE_STATUSES
    if status not in allowed:
        action = "open or increase a position" if increasing else "reduce a position"
        raise DomainError(
            ErrorCode.MARKET_NOT_TRADABLE,
            f"{symbol} (perp market {index}) is not active: its status is {status}; "
            f"cannot {action} there",
            market_status=status,
        )


def price_limit(oracle_price: Decimal, side: Side, tolerance: Decimal) -> Decimal:
    """Property 14: P x (1 + S) for buys, P x (1 - S) for sells, on the venue's price grid
    (rounded away from the oracle, so the limit is never tighter than asked)."""
    if side is Side.LONG:
        return (oracle_price * (1 + tolerance)).quantize(PRICE_STEP, rounding=ROUND_UP)
    return (oracle_price * (1 - tolerance)).quantize(PRICE_STEP, rounding=ROUND_DOWN)
