"""The program State's `exchange_status` bits: which operations a Drift-family program has paused.

driftpy 0.8.89's `math.exchange_status.exchange_paused` treats the State's u8 as an enum variant
and answers True for every State, so the bits are read here, as protocol-v2 defines them
(programs/drift/src/state/state.rs, ExchangeStatus). Velocity's fork keeps the same bits
(velocity-v1, the same file)."""

from __future__ import annotations

from enum import IntFlag


class ExchangeBits(IntFlag):
    DEPOSIT_PAUSED = 0b0000_0001
    WITHDRAW_PAUSED = 0b0000_0010
    AMM_PAUSED = 0b0000_0100
    FILL_PAUSED = 0b0000_1000
    LIQ_PAUSED = 0b0001_0000
    FUNDING_PAUSED = 0b0010_0000
    SETTLE_PNL_PAUSED = 0b0100_0000
    AMM_IMMEDIATE_FILL_PAUSED = 0b1000_0000


class PerpOperation(IntFlag):
    """A perp market's `paused_operations` bits (protocol-v2 state/paused_operations.rs; the
    same in velocity-v1, where a paused market is Active with these bits, not a status)."""

    UPDATE_FUNDING = 0b0000_0001
    AMM_FILL = 0b0000_0010
    FILL = 0b0000_0100
    SETTLE_PNL = 0b0000_1000
    SETTLE_PNL_WITH_POSITION = 0b0001_0000
    LIQUIDATION = 0b0010_0000


# The bits that stop each operation of ours.
DEPOSIT = ExchangeBits.DEPOSIT_PAUSED
WITHDRAW = ExchangeBits.WITHDRAW_PAUSED
PERP_ORDER = ExchangeBits.FILL_PAUSED | ExchangeBits.AMM_PAUSED
SETTLE = ExchangeBits.SETTLE_PNL_PAUSED


def paused_operations(exchange_status: int) -> list[str]:
    return [bit.name.lower() for bit in ExchangeBits if exchange_status & bit]  # type: ignore[union-attr]


def halt_reason(exchange_status: int) -> str:
    """Empty when the program is fully active; otherwise a sentence naming what is paused."""
    paused = paused_operations(exchange_status)
    if not paused:
        return ""
    if exchange_status == 0xFF:
        return "the venue program is paused (exchange_status 0xFF: every operation is paused)"
    return (f"the venue program has paused operations (exchange_status "
            f"0x{exchange_status:02X}: {', '.join(paused)})")
