"""What the live driver reads and builds on a Drift-family venue, for one sub-account.

Two adapters: `DriftView` (driftpy's DriftClient on Drift's IDL) and `VelocityView` (Velocity's
own IDL, its accounts given driftpy's shapes: services/executor/velocity). Both answer the
driver's reads in driftpy's types, so one set of order checks, account math and fill reads
serves both venues; what differs is how accounts are read and instructions built.

`accounts` answers driftpy's getters (get_state_account, get_perp_market_account,
get_spot_market_account, get_oracle_price_data_for_perp_market) from what was last read:
the DriftClient's cache, or an AccountBook.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from driftpy.types import OraclePriceData
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from services.common.errors import DomainError, ErrorCode


def market_name(raw: Iterable[int]) -> str:
    return bytes(raw).decode(errors="replace").strip().strip("\x00")


@dataclass(frozen=True)
class MarketRef:
    symbol: str
    index: int


@dataclass(frozen=True)
class PerpOrderParams:
    """A market order as the driver decided it (venue units)."""

    index: int
    long: bool
    base_units: int
    limit_price: int      # PRICE_PRECISION
    reduce_only: bool
    user_order_id: int
    max_ts: int


class VenueView:
    sub_account: int
    quote_spot_index: int
    authority: Pubkey
    accounts: Any
    perp_by_symbol: dict[str, int]
    spot_by_symbol: dict[str, int]

    # --- reads (each adapter)

    async def load_all(self) -> None:
        """State, every market and oracle, the user: the first sync and every re-sync."""
        raise NotImplementedError

    async def refresh(self, perp_indexes: Iterable[int] = ()) -> None:
        """The user, then the State, its markets (and `perp_indexes`) with their oracles."""
        raise NotImplementedError

    async def refresh_status(self, perp_index: int | None) -> None:
        """The State and one market's oracle: what the venue status reports."""
        raise NotImplementedError

    async def lookup_tables(self) -> list[AddressLookupTableAccount]:
        return []

    @property
    def user(self) -> Any:
        """driftpy's user math (DriftUser) over the last read."""
        raise NotImplementedError

    # --- instructions (each adapter)

    async def deposit_instructions(self, units: int, token_account: Pubkey) -> list[Instruction]:
        raise NotImplementedError

    async def withdraw_instructions(self, units: int,
                                    token_account: Pubkey) -> list[Instruction]:
        """reduce_only: never borrows, only takes back what is deposited."""
        raise NotImplementedError

    def perp_order_instruction(self, order: PerpOrderParams) -> Instruction:
        raise NotImplementedError

    def settle_pnl_instruction(self, perp_index: int) -> Instruction:
        raise NotImplementedError

    # --- what was read

    def has_user(self) -> bool:
        try:
            return self.user.get_user_account_and_slot() is not None
        except KeyError:
            return False

    def user_account(self) -> Any:
        if not self.has_user():
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"the wallet {self.authority} has no venue user account for sub-account "
                f"{self.sub_account}; initialize it first",
            )
        return self.user.get_user_account()

    def state_or_none(self) -> Any:
        return self.accounts.get_state_account()

    def state(self) -> Any:
        state = self.state_or_none()
        if state is None:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE, "the program's State is not loaded")
        return state

    def perp_ref(self, symbol: str) -> MarketRef:
        index = self.perp_by_symbol.get(symbol)
        if index is None:
            known = ", ".join(sorted(self.perp_by_symbol)[:12])
            raise DomainError(ErrorCode.INVALID_MARKET,
                              f"unknown market {symbol[:40]!r}; the venue lists: {known or 'none'}")
        return MarketRef(symbol, index)

    def perp_symbol(self, index: int) -> str:
        market = self.accounts.get_perp_market_account(index)
        return market_name(market.name) if market else f"PERP-{index}"

    def perp_market(self, index: int) -> Any:
        market = self.accounts.get_perp_market_account(index)
        if market is None:
            raise DomainError(ErrorCode.INVALID_MARKET, f"perp market {index} is not loaded")
        return market

    def spot_market(self, index: int) -> Any:
        market = self.accounts.get_spot_market_account(index)
        if market is None:
            raise DomainError(ErrorCode.INVALID_MARKET, f"spot market {index} is not loaded")
        return market

    def taker_fee_rate(self, perp_index: int) -> Decimal:
        """The taker fee of a fill: the State's first fee tier (Drift charges it in the
        position's quote amount)."""
        tier = self.state().perp_fee_structure.fee_tiers[0]
        return Decimal(tier.fee_numerator) / Decimal(tier.fee_denominator) \
            if tier.fee_denominator else Decimal(0)

    def perp_oracle_or_none(self, index: int) -> OraclePriceData | None:
        return self.accounts.get_oracle_price_data_for_perp_market(index)

    def perp_oracle(self, index: int) -> OraclePriceData:
        price = self.perp_oracle_or_none(index)
        if price is None:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"no oracle price for perp market {index}")
        return price
