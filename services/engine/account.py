"""The account the gates, the rebalancer and the hedge read: the venue's AccountState, with the
questions they ask of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.common.venue import AccountState, PositionState

ZERO = Decimal(0)


@dataclass(frozen=True)
class AccountView:
    state: AccountState

    @property
    def wallet_sol(self) -> Decimal:
        return self.state.wallet_sol

    @property
    def wallet_usdc(self) -> Decimal:
        return self.state.wallet_usdc

    @property
    def collateral(self) -> Decimal:
        return self.state.collateral

    @property
    def free_collateral(self) -> Decimal:
        return self.state.free_collateral

    @property
    def maintenance_margin(self) -> Decimal:
        return self.state.margin_requirement

    @property
    def health(self) -> Decimal:
        return self.state.health_ratio

    @property
    def leverage(self) -> Decimal:
        return self.state.leverage

    @property
    def as_of(self) -> datetime | None:
        return self.state.as_of

    @property
    def positions(self) -> list[PositionState]:
        return self.state.positions

    def position(self, market: str) -> PositionState | None:
        for position in self.state.positions:
            if position.market == market and position.size != 0:
                return position
        return None

    def signed_size(self, market: str) -> Decimal:
        position = self.position(market)
        return ZERO if position is None else signed(position)

    def signed_sizes(self) -> dict[str, Decimal]:
        return {p.market: signed(p) for p in self.state.positions if p.size != 0}

    def mark_prices(self) -> dict[str, Decimal]:
        return {p.market: p.mark_price for p in self.state.positions}


def signed(position: PositionState) -> Decimal:
    return position.side.sign * position.size
