"""One sub-account's accounts as read at one moment (State, markets, oracles, User), and
driftpy's user math over them.

driftpy's `DriftUser` asks a DriftClient for markets and oracle prices; `BookUser` answers
from the book instead, so the same margin engine values a User however it was read and decoded
(Velocity's accounts arrive in driftpy's shapes: drift_shapes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftpy.accounts.types import DataAndSlot
from driftpy.constants.numeric_constants import PRICE_PRECISION
from driftpy.drift_user import DriftUser
from driftpy.types import OraclePriceData
from solders.pubkey import Pubkey


def quote_asset_price(slot: int) -> OraclePriceData:
    """The quote asset's oracle: 1, as driftpy prices OracleSource.QuoteAsset."""
    return OraclePriceData(PRICE_PRECISION, slot, 1, 1, 1, True)


@dataclass
class AccountBook:
    slot: int = 0
    state: Any = None
    perp_markets: dict[int, Any] = field(default_factory=dict)
    spot_markets: dict[int, Any] = field(default_factory=dict)
    oracles: dict[Pubkey, OraclePriceData] = field(default_factory=dict)
    user: Any = None

    # --- what DriftUser asks of its client

    def get_state_account(self) -> Any:
        return self.state

    def get_perp_market_account(self, index: int) -> Any:
        return self.perp_markets.get(index)

    def get_spot_market_account(self, index: int) -> Any:
        return self.spot_markets.get(index)

    def get_perp_market_accounts(self) -> list[Any]:
        return list(self.perp_markets.values())

    def get_spot_market_accounts(self) -> list[Any]:
        return list(self.spot_markets.values())

    def get_oracle_price_data_for_perp_market(self, index: int) -> OraclePriceData | None:
        market = self.perp_markets.get(index)
        return self.oracles.get(market.amm.oracle) if market is not None else None

    def get_oracle_price_data_for_spot_market(self, index: int) -> OraclePriceData | None:
        market = self.spot_markets.get(index)
        if market is None:
            return None
        if type(market.oracle_source).__name__ == "QuoteAsset":
            return quote_asset_price(self.slot)
        return self.oracles.get(market.oracle)

    get_oracle_data_for_perp_market = get_oracle_price_data_for_perp_market
    get_oracle_data_for_spot_market = get_oracle_price_data_for_spot_market

    def get_user_stats(self, *_: Any) -> None:
        return None  # fee tiers by volume are not read; the State's first tier is used


class BookUser(DriftUser):
    """driftpy's user math on an AccountBook (no client, no subscription)."""

    def __init__(self, book: AccountBook, user_address: Pubkey) -> None:
        # DriftUser's own __init__ builds an RPC subscriber; the book is already read.
        self.drift_client = book  # type: ignore[assignment]
        self.user_public_key = user_address
        self.account_subscriber = None

    def get_user_account_and_slot(self) -> DataAndSlot | None:
        book: AccountBook = self.drift_client  # type: ignore[assignment]
        return DataAndSlot(book.slot, book.user) if book.user is not None else None

    def get_user_account(self) -> Any:
        book: AccountBook = self.drift_client  # type: ignore[assignment]
        return book.user
