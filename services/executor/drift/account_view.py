"""AccountState from driftpy's user math (DriftUser), scaled out of the venue's precisions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from driftpy.math.margin import MarginCategory
from driftpy.math.perp_position import (
    calculate_entry_price,
    calculate_position_funding_pnl,
    calculate_position_pnl,
)

from services.common.venue import AccountState, PositionState, Side
from services.executor.drift.venue_view import VenueView

QUOTE = Decimal(10**6)  # QUOTE_PRECISION and PRICE_PRECISION
BASE = Decimal(10**9)  # BASE_PRECISION
LEVERAGE_SCALE = Decimal(10_000)
LAMPORTS = Decimal(10**9)


def quote(value: int) -> Decimal:
    return Decimal(value) / QUOTE


def base(value: int) -> Decimal:
    return Decimal(value) / BASE


def positions(view: VenueView) -> list[PositionState]:
    user = view.user
    found = []
    for position in view.user_account().perp_positions:
        if position.base_asset_amount == 0:
            continue
        index = position.market_index
        market = view.perp_market(index)
        oracle = view.perp_oracle(index)
        size = base(abs(position.base_asset_amount))
        mark = quote(oracle.price)
        unrealized = quote(calculate_position_pnl(market, position, oracle, with_funding=False))
        settled = quote(position.settled_pnl)
        liq = user.get_perp_liq_price(index)
        found.append(PositionState(
            market=view.perp_symbol(index),
            side=Side.LONG if position.base_asset_amount > 0 else Side.SHORT,
            size=size,
            entry_price=quote(int(calculate_entry_price(position))),
            mark_price=mark,
            unrealized_pnl=unrealized,
            settled_pnl=settled,
            total_pnl=settled + unrealized,
            liq_price=quote(liq) if liq is not None and liq > 0 else None,
            notional=size * mark,
            funding_pnl=quote(calculate_position_funding_pnl(market, position)),
        ))
    return found


def unsettled_pnl(view: VenueView, market_index: int) -> Decimal:
    """What settle_pnl would move for this market: the position's PnL with funding."""
    for position in view.user_account().perp_positions:
        if position.market_index == market_index:
            market = view.perp_market(market_index)
            oracle = view.perp_oracle(market_index)
            return quote(calculate_position_pnl(market, position, oracle, with_funding=True))
    return Decimal(0)


def account_state(view: VenueView, *, account: str, venue: str, wallet_usdc: Decimal,
                  wallet_sol: Decimal, as_of: datetime) -> AccountState:
    user = view.user
    quote_market = view.spot_market(view.quote_spot_index)
    quote_units = Decimal(10**quote_market.decimals)
    collateral = quote(user.get_total_collateral(MarginCategory.MAINTENANCE))
    return AccountState(
        account=account,
        sub_account=view.sub_account,
        venue=venue,
        collateral=collateral,
        free_collateral=quote(user.get_free_collateral()),
        equity=quote(user.get_net_usd_value()),
        health_ratio=Decimal(user.get_health()),
        leverage=Decimal(user.get_leverage()) / LEVERAGE_SCALE,
        margin_requirement=quote(user.get_margin_requirement(MarginCategory.MAINTENANCE)),
        initial_margin_requirement=quote(user.get_margin_requirement(MarginCategory.INITIAL)),
        quote_balance=Decimal(user.get_token_amount(view.quote_spot_index)) / quote_units,
        wallet_usdc=wallet_usdc,
        wallet_sol=wallet_sol,
        as_of=as_of,
        positions=positions(view),
    )
