"""A read-only Decimal view of the executor's AccountState."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dne.common.v1 import common_pb2
from services.common.decimals import from_wire
from services.common.timeutil import from_timestamp, is_set

ZERO = Decimal(0)


@dataclass(frozen=True)
class AccountView:
    state: common_pb2.AccountState

    @property
    def wallet_sol(self) -> Decimal:
        return from_wire(self.state.wallet.sol)

    @property
    def wallet_usdc(self) -> Decimal:
        return from_wire(self.state.wallet.usdc)

    @property
    def collateral(self) -> Decimal:
        return from_wire(self.state.collateral)

    @property
    def free_collateral(self) -> Decimal:
        return from_wire(self.state.free_collateral)

    @property
    def maintenance_margin(self) -> Decimal:
        return from_wire(self.state.margin_requirement)

    @property
    def health(self) -> Decimal:
        return from_wire(self.state.health_ratio)

    @property
    def leverage(self) -> Decimal:
        return from_wire(self.state.leverage)

    @property
    def as_of(self) -> datetime | None:
        return from_timestamp(self.state.as_of) if is_set(self.state.as_of) else None

    def position(self, market: str) -> common_pb2.Position | None:
        for position in self.state.positions:
            if position.market == market and from_wire(position.size) != 0:
                return position
        return None

    def signed_size(self, market: str) -> Decimal:
        position = self.position(market)
        return ZERO if position is None else signed(position)

    def signed_sizes(self) -> dict[str, Decimal]:
        return {p.market: signed(p) for p in self.state.positions if from_wire(p.size) != 0}

    def mark_prices(self) -> dict[str, Decimal]:
        return {p.market: from_wire(p.mark_price) for p in self.state.positions}


def signed(position: common_pb2.Position) -> Decimal:
    size = from_wire(position.size)
    return -size if position.side == common_pb2.SIDE_SHORT else size
