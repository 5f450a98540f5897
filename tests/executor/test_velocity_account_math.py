"""The live driver values a Velocity account with Drift's margin engine (Velocity kept it), fed
Velocity's accounts in driftpy's shapes (services/executor/velocity/drift_shapes.py).

Proof on real accounts: 44 recorded mainnet Users whose every position (and empty slot) names
a recorded market (15 of them hold a perp position; none holds LP shares, which Velocity
removed), with the recorded markets. Each is valued twice: as driftpy decodes
Drift's bytes, and as Velocity's decoder reads the same values written in Velocity's layout.
The driver's AccountState (collateral, free collateral, health, leverage, margins, every
position's PnL, funding PnL and liquidation price) and its funding payments must be the same.
A shape that misses a field the math reads (Velocity moved the funding totals out of the AMM,
the TWAPs into market_stats) would show here as a different number."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from driftpy.types import OraclePriceData
from solders.pubkey import Pubkey

from services.executor.drift import account_view
from services.executor.drift.funding import funding_payments
from services.executor.drift.venue_view import VenueView
from services.executor.velocity import drift_shapes
from services.executor.velocity.account_book import AccountBook, BookUser
from services.feed.drift_accounts import SNAPSHOTS_FILE, drift_accounts_coder
from services.feed.settings import DEFAULT_DATA_DIR
from services.feed.velocity_accounts import velocity_decoder
from services.venue_sim.velocity_markets import DriftToVelocity
from tests.kit.foreign_layouts import recorded_accounts

DECODER = velocity_decoder()
TO_VELOCITY = DriftToVelocity(DECODER.idl, DECODER)
SHAPES = {"PerpMarket": drift_shapes.drift_perp_market,
          "SpotMarket": drift_shapes.drift_spot_market, "User": drift_shapes.drift_user}


class BookView(VenueView):
    def __init__(self, book: AccountBook) -> None:
        self.accounts = book
        self.sub_account = 0
        self.quote_spot_index = 0
        self.authority = Pubkey.default()
        self._user = BookUser(book, Pubkey.default())

    @property
    def user(self) -> BookUser:
        return self._user


def in_velocity_shape(kind: str, drift: Any) -> Any:
    """Drift's values written in Velocity's layout, read back by Velocity's decoder."""
    encoded = DECODER.encode(kind, TO_VELOCITY.values(kind, drift))
    return SHAPES[kind](DECODER.decode_as(kind, encoded))


def recorded_markets() -> tuple[dict[int, Any], dict[int, Any]]:
    perps, spots = {}, {}
    for record in json.loads((DEFAULT_DATA_DIR / SNAPSHOTS_FILE).read_text())["accounts"]:
        if record["kind"] in ("PerpMarket", "SpotMarket"):
            market = drift_accounts_coder().decode(base64.b64decode(record["base64"]))
            (perps if record["kind"] == "PerpMarket" else spots)[market.market_index] = market
    return perps, spots


PERPS, SPOTS = recorded_markets()


def oracles() -> dict[Pubkey, OraclePriceData]:
    """Each market's last recorded oracle price, as its oracle's reading."""
    prices = {m.amm.oracle: m.amm.historical_oracle_data.last_oracle_price
              for m in PERPS.values()}
    prices.update({m.oracle: m.historical_oracle_data.last_oracle_price for m in SPOTS.values()})
    return {key: OraclePriceData(price, 1, 1, price, 1, True) for key, price in prices.items()}


def covered_users() -> list[Any]:
    users = []
    for account in recorded_accounts():
        if account.kind != "User":
            continue
        user = drift_accounts_coder().decode(account.data)
        # driftpy's PnL loop looks up the market of every slot, empty ones too
        held = {p.market_index for p in user.perp_positions}
        spots = {s.market_index for s in user.spot_positions if s.scaled_balance or s.open_orders}
        lp = any(p.lp_shares for p in user.perp_positions)  # Velocity has no LP shares
        if held <= PERPS.keys() and spots <= SPOTS.keys() and not lp:
            users.append(user)
    return users


USERS = covered_users()


def view_of(user: Any, *, velocity: bool) -> BookView:
    shaped = (lambda kind, account: in_velocity_shape(kind, account)) if velocity else \
        (lambda kind, account: account)
    return BookView(AccountBook(
        slot=1,
        perp_markets={i: shaped("PerpMarket", m) for i, m in PERPS.items()},
        spot_markets={i: shaped("SpotMarket", m) for i, m in SPOTS.items()},
        oracles=oracles(),
        user=shaped("User", user)))


def test_the_recorded_accounts_cover_real_positions() -> None:
    assert len(USERS) == 44
    assert sum(any(p.base_asset_amount for p in u.perp_positions) for u in USERS) == 15


@pytest.mark.parametrize("number", range(len(USERS)))
def test_a_real_account_is_valued_the_same_from_velocity_s_layout(number: int) -> None:
    user = USERS[number]
    at = datetime(2026, 12, 1, tzinfo=UTC)
    states = []
    for velocity in (False, True):
        view = view_of(user, velocity=velocity)
        state = account_view.account_state(view, account="a", venue="v", wallet_usdc=Decimal(0),
                                           wallet_sol=Decimal(0), as_of=at)
        states.append((state, funding_payments(view)))
    assert states[0] == states[1]


def test_the_comparison_sees_a_moved_field() -> None:
    # A shape that left the funding totals where Drift kept them would read zero there:
    # the position's funding PnL would differ, and the test above would fail.
    user = next(u for u in USERS if any(p.base_asset_amount for p in u.perp_positions))
    drift, velocity = view_of(user, velocity=False), view_of(user, velocity=True)
    index = next(p.market_index for p in user.perp_positions if p.base_asset_amount)
    velocity.accounts.perp_markets[index].amm.cumulative_funding_rate_long += 10**12
    velocity.accounts.perp_markets[index].amm.cumulative_funding_rate_short += 10**12
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert account_view.positions(drift) != account_view.positions(velocity)
    assert account_view.account_state(drift, account="a", venue="v", wallet_usdc=Decimal(0),
                                      wallet_sol=Decimal(0), as_of=at) != \
        account_view.account_state(velocity, account="a", venue="v", wallet_usdc=Decimal(0),
                                   wallet_sol=Decimal(0), as_of=at)


def test_a_paused_operation_is_drift_s_status_for_it() -> None:
    sol = next(m for m in PERPS.values() if bytes(m.name).decode().strip() == "SOL-PERP")
    values = TO_VELOCITY.values("PerpMarket", sol)
    for bits, status in ((0, "Active"), (0b001, "FundingPaused"), (0b010, "AmmPaused"),
                         (0b100, "FillPaused"), (0b101, "FillPaused"), (0b1000, "Active")):
        shaped = drift_shapes.drift_perp_market({**values, "paused_operations": bits})
        assert type(shaped.status).__name__ == status, bits
    reduce_only = drift_shapes.drift_perp_market({**values, "status": "ReduceOnly",
                                                  "paused_operations": 0b001})
    assert type(reduce_only.status).__name__ == "ReduceOnly"
    prediction = drift_shapes.drift_perp_market({**values,
                                                 "contract_type": "DeprecatedPrediction"})
    assert type(prediction.contract_type).__name__ == "Prediction"
