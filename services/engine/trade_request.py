"""What a trade asks for, as the gates, the trade path and the backtester read it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.common.venue import QUOTE_MARKET, SPOT_MARKET, OrderKind, OrderResult, Side


@dataclass(frozen=True)
class TradeRequest:
    request_id: str
    action: str                     # "DRIFT_OPEN_POSITION", ...
    kind: OrderKind
    market: str
    side: Side | None = None        # for a close, derived from the position
    size: Decimal = Decimal(0)      # base, SOL or USDC; for a close, the position's size
    source: str = "user"            # "user", "rebalance"
    # Set by the engine only: the legs of a command whose confirmation was checked already.
    # The wire's `confirmed` flag never sets it; a user confirms with a quote's id.
    confirmed: bool = False
    confirmation_id: str = ""       # the engine's quote this request confirms (confirmations.py)
    reduce_only: bool = False
    unwind_spot: bool = False       # a close on the hedge market also sells its spot leg

    @property
    def is_perp(self) -> bool:
        return self.kind in (OrderKind.PERP_OPEN, OrderKind.PERP_REBALANCE,
                             OrderKind.PERP_CLOSE)

    @property
    def is_swap(self) -> bool:
        return self.kind in (OrderKind.SPOT_BUY, OrderKind.SPOT_SELL)

    @property
    def order_market(self) -> str:
        """The market the venue's and the vault's records name: the spot leg's, the quote's
        for a transfer, else the perp's."""
        if self.is_swap:
            return SPOT_MARKET
        if self.kind in (OrderKind.DEPOSIT, OrderKind.WITHDRAW):
            return QUOTE_MARKET
        return self.market

    @classmethod
    def of_record(cls, order: OrderResult, source: str) -> TradeRequest:
        """The request a stored intent came from, to answer it once its order is final."""
        return cls(order.client_order_id, ACTION_BY_KIND[order.kind], order.kind, order.market,
                   order.side, order.requested_size or Decimal(0), source=source or "user")


# The command each kind of trade answers as (CommandResult.action).
ACTION_BY_KIND = {
    OrderKind.PERP_OPEN: "DRIFT_OPEN_POSITION",
    OrderKind.PERP_CLOSE: "DRIFT_CLOSE_POSITION",
    OrderKind.PERP_REBALANCE: "REBALANCE",
    OrderKind.SPOT_BUY: "SWAP",
    OrderKind.SPOT_SELL: "SWAP",
    OrderKind.DEPOSIT: "DRIFT_DEPOSIT",
    OrderKind.WITHDRAW: "DRIFT_WITHDRAW",
    OrderKind.SETTLE_PNL: "DRIFT_SETTLE_PNL",
}
