"""The engine's own gates on a backtest's orders.

Every order a strategy places is first evaluated by the engine's Preflight (the venue, gas,
market, leverage, balance and profitability gates of services/engine/preflight.py) on the
account and the market table of its hour, as the service's trade path evaluates it before it
sends anything. An approved order goes to the paper venue with the limit price the gates set;
a refused one is recorded with its gate and reason, and nothing trades."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from services.backtest.data import BacktestData
from services.common.venue import WALLET_ACCOUNT, AccountState
from services.engine.account import AccountView
from services.engine.gates import LIMIT_PLACES
from services.engine.preflight import ApprovedTrade, Preflight, TradeContext, VenueStatus
from services.engine.settings import EngineSettings
from services.engine.trade_request import TradeRequest

MODE = "paper"
# The limit as the trade path sends it (gates.LIMIT_PLACES).
LIMIT_STEP = Decimal(1).scaleb(-LIMIT_PLACES)
# The paper venue in process: connected, never halted, no round trip to measure.
PAPER_VENUE = VenueStatus(venue=MODE, account=WALLET_ACCOUNT, connected=True,
                          trading_halted=False, halt_reason="", latency_ms=0.0, measured_ms=0.0)


def engine_defaults() -> EngineSettings:
    """The engine's settings as it ships (no environment read): the backtest decides with them."""
    return EngineSettings.model_construct()


class EngineGates:
    def __init__(self, data: BacktestData, settings: EngineSettings) -> None:
        self._data = data
        self.settings = settings
        self._preflight = Preflight(settings, settings.leverage_limit(MODE))

    def evaluate(self, request: TradeRequest, account: AccountState, now: datetime,
                 price: Decimal | None, sol_price: Decimal) -> ApprovedTrade:
        """The approved order, or GateDenied / DomainError with the engine's reason."""
        context = TradeContext(AccountView(account), PAPER_VENUE, self._data.market_terms(now),
                               price, sol_price)
        approved = self._preflight.evaluate(request, context)
        if approved.price_limit is None:
            return approved
        return replace(approved, price_limit=approved.price_limit.quantize(
            LIMIT_STEP, ROUND_HALF_EVEN))
