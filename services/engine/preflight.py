"""The gates a trade passes before anything is written or sent, composed per trade kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.venue import OrderKind, Side
from services.engine import delta, gates
from services.engine.account import AccountView, signed
from services.engine.entry_economics import EntryCosts, assess_entry
from services.engine.settings import EngineSettings
from services.engine.trade_request import TradeRequest

log = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass(frozen=True)
class VenueStatus:
    """The executor's word on the venue, and the round trip this engine measured to ask it."""

    venue: str          # "paper", "drift"
    account: str        # the venue's account (a wallet's public key; "paper-wallet")
    connected: bool
    trading_halted: bool
    halt_reason: str
    latency_ms: float   # the executor's own measure of the venue
    measured_ms: float


@dataclass(frozen=True)
class MarketTerms:
    """What the gates read of a market in the feed's table."""

    symbol: str
    tradable: bool
    rate_1h: Decimal    # the funding rate a long pays an hour (a short receives it)


@dataclass(frozen=True)
class TradeContext:
    account: AccountView
    venue: VenueStatus
    markets: dict[str, MarketTerms]
    price: Decimal | None       # oracle price of the traded market (SOL's for a swap)
    sol_price: Decimal | None   # converts lamport fees to USD


@dataclass(frozen=True)
class ApprovedTrade:
    request: TradeRequest
    side: Side | None
    size: Decimal
    price: Decimal | None
    price_limit: Decimal | None
    notional: Decimal
    cost: gates.CostEstimate | None
    expected_revenue: Decimal | None

    def details(self) -> dict[str, str]:
        """What a human confirms: the whole trade, fees included."""
        return {
            "market": self.request.market,
            "side": self.side.value if self.side else "",
            "size": to_wire(self.size),
            "price": to_wire(self.price) if self.price is not None else "",
            "notional": to_wire(self.notional, 2),
            "estimated_fees": to_wire(self.cost.total, 4) if self.cost else "0",
        }


class Preflight:
    def __init__(self, settings: EngineSettings, leverage_limit: Decimal) -> None:
        self._settings = settings
        self._leverage_limit = leverage_limit
        self._entry_costs = EntryCosts.of(settings)

    def evaluate(self, request: TradeRequest, context: TradeContext) -> ApprovedTrade:
        """Answers the approved trade or raises GateDenied / DomainError with the reason."""
        self._venue_gates(context)
        kind = request.kind
        if kind is OrderKind.DEPOSIT:
            gates.check_deposit(request.size, context.account.wallet_usdc).raise_if_denied()
            return self._plain(request, request.size)
        if kind is OrderKind.WITHDRAW:
            account = context.account
            prices = account.mark_prices()
            gates.check_withdrawal(
                request.size, account.collateral, account.maintenance_margin,
                position_notional=sum((abs(size * prices[market]) for market, size
                                       in account.signed_sizes().items()), ZERO),
                max_leverage=self._leverage_limit,
            ).raise_if_denied()
            return self._plain(request, request.size)
        if kind is OrderKind.SETTLE_PNL:
            if request.market not in context.markets and context.account.position(
                request.market
            ) is None:
                raise DomainError(ErrorCode.INVALID_MARKET,
                                  f"{request.market!r} is neither a known market nor held")
            return self._plain(request, ZERO)
        if kind is OrderKind.PERP_CLOSE:
            return self._close(request, context)
        if request.is_swap:
            return self._swap(request, context)
        return self._open(request, context)

    # --- per kind -------------------------------------------------------------------------

    def _venue_gates(self, context: TradeContext) -> None:
        venue = context.venue
        if not venue.connected:
            gates.deny("venue", ErrorCode.VENUE_UNAVAILABLE,
                       "the venue is not connected").raise_if_denied()
        if venue.trading_halted:
            gates.deny("venue", ErrorCode.VENUE_HALTED,
                       f"the venue halted trading: {venue.halt_reason or 'no reason given'}"
                       ).raise_if_denied()
        gates.check_latency(
            venue.latency_ms, venue.measured_ms, self._settings.latency_limit_ms
        ).raise_if_denied()
        gates.check_gas(context.account.wallet_sol, self._settings.reserved_sol).raise_if_denied()

    def _plain(self, request: TradeRequest, size: Decimal) -> ApprovedTrade:
        return ApprovedTrade(request, request.side, size, None, None, size, None, None)

    def _open(self, request: TradeRequest, context: TradeContext) -> ApprovedTrade:
        hedge = self._settings.hedge_market
        if request.source == "user" and request.market == hedge and request.side is Side.LONG:
            # The hedge market's position is the carry's short, which the rebalancer keeps
            # equal to the spot SOL: a long there would be resized or reversed by it.
            gates.deny("hedge_market", ErrorCode.HEDGE_MARKET_LONG,
                       f"{hedge} is the hedge market: the engine holds it short against spot "
                       f"SOL and rebalances it, so it takes no long; leave the carry with a "
                       f"close, or go long on another market").raise_if_denied()
        tradable = {s for s, market in context.markets.items() if market.tradable}
        gates.check_market(request.market, tradable, context.markets).raise_if_denied()
        price = _required(context.price, request.market)
        account = context.account
        prices = {**account.mark_prices(), request.market: price}
        short = request.side is Side.SHORT
        gates.check_leverage(
            positions=account.signed_sizes(), prices=prices, collateral=account.collateral,
            market=request.market, signed_size_change=-request.size if short else request.size,
            limit=self._leverage_limit,
        ).raise_if_denied()
        notional = request.size * price
        cost = self._cost(notional, context)
        revenue = None
        if request.kind is OrderKind.PERP_OPEN:
            # Rebalances are exempt: they restore neutrality, a risk decision, not a carry one.
            revenue = self._profitability(request, context, price)
        return ApprovedTrade(
            request, request.side, request.size, price,
            gates.price_limit(price, self._settings.slippage_tolerance, buying=not short),
            notional, cost, revenue,
        )

    def _close(self, request: TradeRequest, context: TradeContext) -> ApprovedTrade:
        position = context.account.position(request.market)
        if position is None:
            raise DomainError(ErrorCode.NO_POSITION, f"there is no open {request.market} position",
                              market=request.market)
        size = abs(signed(position))
        closing_short = position.side is Side.SHORT
        price = context.price or position.mark_price
        side = position.side.opposite
        notional = size * price
        return ApprovedTrade(
            request, side, size, price,
            gates.price_limit(price, self._settings.slippage_tolerance, buying=closing_short),
            notional, self._cost(notional, context), None,
        )

    def _swap(self, request: TradeRequest, context: TradeContext) -> ApprovedTrade:
        price = _required(context.price, "SOL")
        buying = request.kind is OrderKind.SPOT_BUY
        limit = gates.price_limit(price, self._settings.slippage_tolerance, buying=buying)
        account = context.account
        if buying and request.size * limit > account.wallet_usdc:
            gates.deny("balance", ErrorCode.INSUFFICIENT_BALANCE,
                       f"buying {request.size} SOL needs up to {request.size * limit:.2f} USDC, "
                       f"the wallet holds {account.wallet_usdc} USDC").raise_if_denied()
        if not buying and account.wallet_sol - request.size < self._settings.reserved_sol:
            gates.deny("balance", ErrorCode.INSUFFICIENT_BALANCE,
                       f"selling {request.size} SOL would leave less than the "
                       f"{self._settings.reserved_sol} SOL gas reserve "
                       f"(wallet holds {account.wallet_sol} SOL)").raise_if_denied()
        notional = request.size * price
        return ApprovedTrade(request, request.side, request.size, price, limit, notional,
                             self._cost(notional, context), None)

    def _cost(self, notional: Decimal, context: TradeContext) -> gates.CostEstimate:
        sol_price = context.sol_price or context.price or ZERO
        return gates.estimate_cost(notional, sol_price, self._settings.jito_tip_lamports,
                                   self._settings.base_fee_lamports)

    def _profitability(
        self, request: TradeRequest, context: TradeContext, price: Decimal
    ) -> Decimal:
        # The position earns only after its whole round trip is paid: the perp in and out and,
        # for the carry on the hedge market, the spot SOL bought with it and sold at the exit.
        rate = context.markets[request.market].rate_1h
        economics = assess_entry(
            size=request.size, rate_1h=rate, price=price, short=request.side is Side.SHORT,
            sol_price=context.sol_price or context.price or ZERO,
            spot_sol=self._spot_leg(request, context), costs=self._entry_costs)
        log.info("profitability", extra={
            "market": request.market, "expected_revenue": str(economics.revenue),
            "estimated_costs": str(economics.round_trip),
            "net_profit": str(economics.revenue - economics.round_trip),
            "rate_1h": str(rate), "horizon_hours": str(self._settings.profit_horizon_hours),
            **{name: str(value) for name, value in economics.parts.items()},
        })
        economics.decision.raise_if_denied()
        return economics.revenue

    def _spot_leg(self, request: TradeRequest, context: TradeContext) -> Decimal:
        """The spot SOL a short on the hedge market buys with it (see HedgedEntry)."""
        hedge = self._settings.hedge_market
        if request.market != hedge or request.side is not Side.SHORT or request.source != "user":
            return ZERO
        account = context.account
        return delta.spot_to_buy(account.wallet_sol, self._settings.reserved_sol,
                                 account.signed_size(hedge), request.size)


def _required(price: Decimal | None, market: str) -> Decimal:
    if price is None:
        raise DomainError(ErrorCode.FEED_UNAVAILABLE, f"no price for {market}")
    return price
