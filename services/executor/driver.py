"""The venue port: what the executor asks of a venue, whatever the venue is.

A driver is one adapter behind this port: `paper` (PaperDriver, simulated fills against the
feed's oracle prices and recorded funding) today, `drift` (driftpy) in a later issue.

Contract, one row per method. Every order method takes the caller's client order id and is
idempotent on it: the same id again answers the stored result with `replayed=True` and trades
nothing, whatever that result was (a FAILED id is final too: the engine recorded it).
Those rules (replay, one call per id in flight, outcomes, the order log) live once, in
services.executor.order_journal; a driver prepares, submits and reads.
Refusals are answers (status REJECTED or FAILED with an error code), never exceptions;
a driver raises DomainError only where there is no OrderResult to carry it (state and status).

| method           | answers           | does                                                    |
| ---------------- | ----------------- | ------------------------------------------------------- |
| start()          | None              | connects or loads persisted state; once, before use     |
| close()          | None              | releases connections; state is already persisted        |
| account_state()  | AccountState      | collateral, margin, health, leverage, positions, wallet |
|                  |                   | and funding payments settled since `funding_since`      |
| deposit()        | OrderResult       | moves quote from the wallet into the sub-account        |
| withdraw()       | OrderResult       | moves quote back, never beyond free collateral          |
| open_position()  | OrderResult       | a market order on a perp, within the leverage limit     |
| close_position() | CloseOutcome      | an offsetting order of exactly the position size, then  |
|                  |                   | a settlement if asked and abs(unsettled PnL) > $1       |
| settle_pnl()     | OrderResult       | moves a market's unsettled PnL into the quote balance   |
| swap()           | OrderResult       | the spot leg: LONG buys, SHORT sells SOL in the wallet  |
| get_order()      | OrderResult, None | the stored result of an earlier order, for recovery     |
| status()         | VenueStatus       | connected, latency, halted and why, wallet authority    |
| status_and_      | (VenueStatus,     | both, read together (the gates' reads before a trade)   |
|   account_state()|  AccountState)    |                                                         |
| account_after_   | AccountState,     | the account as the last fill left it, when the driver   |
|   fill()         | None              | has it at hand (paper: the fill's prices); None: the    |
|                  |                   | caller reads it (drift: RPC round trips)                |
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from services.common.venue import (
    AccountState,
    CloseOutcome,
    OpenOrder,
    OrderResult,
    Side,
    VenueStatus,
)


class VenueDriver(Protocol):
    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState: ...

    async def status_and_account_state(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> tuple[VenueStatus, AccountState]: ...

    async def account_after_fill(
        self, sub_account: int, funding_since: datetime | None = None
    ) -> AccountState | None: ...

    async def deposit(self, client_order_id: str, sub_account: int, amount: Decimal) -> OrderResult:
        ...

    async def withdraw(
        self, client_order_id: str, sub_account: int, amount: Decimal
    ) -> OrderResult: ...

    async def open_position(self, order: OpenOrder) -> OrderResult: ...

    async def close_position(
        self,
        client_order_id: str,
        sub_account: int,
        market: str,
        *,
        settle_pnl: bool = False,
        price_limit: Decimal | None = None,
    ) -> CloseOutcome: ...

    async def settle_pnl(self, client_order_id: str, sub_account: int, market: str) -> OrderResult:
        ...

    async def swap(
        self, client_order_id: str, side: Side, size: Decimal, price_limit: Decimal | None = None
    ) -> OrderResult: ...

    async def get_order(self, client_order_id: str) -> OrderResult | None: ...

    async def status(self) -> VenueStatus: ...
