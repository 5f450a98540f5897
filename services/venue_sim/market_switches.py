"""Switches tests turn on served markets: an oracle's price and age, an hour of funding.

- set_oracle: rewrites the perp market's oracle account (same kind, same address) so driftpy
  decodes `price`, posted `stale_slots` slots before the chain's current slot; the venue then
  judges that oracle `stale_slots` old (fills refuse beyond the State's
  slots_before_stale_for_amm, 10) until set again. An oracle never set is fresh.
- apply_funding: one funding update as update_funding_rate writes it: the hourly rate
  (a fraction of the price, e.g. 0.0001 = 0.01 %/h) times the oracle price, in quote per base
  x 1e9, added to both cumulative_funding_rate_long and _short (no imbalance capping), and
  last_funding_rate(_long/_short), last_funding_rate_ts set. A position's unrealized funding
  PnL then moves by size x rate x price: longs pay a positive rate, shorts receive it.
"""

from __future__ import annotations

import time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from driftpy.accounts.oracle import decode_oracle
from solders.pubkey import Pubkey

from services.venue_sim.accounts import AccountStore, OracleNeed, oracle_account
from services.venue_sim.drift_coder import replace
from services.venue_sim.perp_math import FUNDING_RATE_BUFFER, PRICE_PRECISION

MAX_STALE_SLOTS = 10_000_000
MAX_RATE_1H = Decimal("0.1")  # 10 % an hour: far beyond any real market, refused above
SLOT_SECONDS = Decimal("0.4")


def _decimal(value: object, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number, got {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be finite")
    return number


def _market(store: AccountStore, market_index: object) -> Pubkey:
    if not isinstance(market_index, int) or isinstance(market_index, bool):
        raise ValueError("market_index must be an integer")
    address = store.perp_market_address(market_index)
    if address not in store.accounts:
        raise ValueError(f"no perp market {market_index} is served")
    return address


def set_oracle(store: AccountStore, current_slot: int, market_index: object, price: object,
               stale_slots: object = 0) -> dict[str, object]:
    oracle = store.market_oracle(_market(store, market_index))
    usd = _decimal(price, "price")
    if usd <= 0 or usd > 10**9:
        raise ValueError("price must be a positive USD price below 1e9")
    if not isinstance(stale_slots, int) or isinstance(stale_slots, bool) \
            or not 0 <= stale_slots <= MAX_STALE_SLOTS:
        raise ValueError(f"stale_slots must be an integer in 0..{MAX_STALE_SLOTS}")
    raw = int((usd * PRICE_PRECISION).to_integral_value(ROUND_HALF_EVEN))
    posted = current_slot - stale_slots
    published = int(time.time() - float(stale_slots * SLOT_SECONDS))
    need = OracleNeed(oracle.address, oracle.source, raw, published, posted, oracle.market)
    built = oracle_account(store.oracle_coder, need)
    if built is None:
        raise ValueError(f"{type(oracle.source).__name__} oracles cannot be set")
    store.put(replace(built, note=f"set by /_control/oracle: {usd} USD, {stale_slots} slots old"))
    store.oracle_stale_slots[oracle.address] = stale_slots
    return {"market_index": market_index, "oracle": str(oracle.address), "price": raw,
            "slot": posted, "stale_slots": stale_slots}


def apply_funding(store: AccountStore, market_index: object, rate_1h: object,
                  now: int | None = None) -> dict[str, object]:
    address = _market(store, market_index)
    rate = _decimal(rate_1h, "rate_1h")
    if abs(rate) > MAX_RATE_1H:
        raise ValueError(f"|rate_1h| must be at most {MAX_RATE_1H} (a fraction per hour)")
    oracle = store.market_oracle(address)
    price = decode_oracle(store.accounts[oracle.address].data, oracle.source).price
    # quote per base x FUNDING_RATE_PRECISION (1e9) = rate x price(1e6) x 1e3
    delta = int((rate * price * FUNDING_RATE_BUFFER).to_integral_value(ROUND_HALF_EVEN))
    stamp = int(time.time()) if now is None else now
    long, short = _add_funding(store, address, delta, stamp)
    return {"market_index": market_index, "rate_1h": str(rate), "oracle_price": price,
            "funding_rate": delta, "cumulative_funding_rate_long": long,
            "cumulative_funding_rate_short": short}


def _add_funding(store: AccountStore, address: Pubkey, delta: int, stamp: int) -> tuple[int, int]:
    """Writes one funding update; answers the new cumulative long and short rates. Drift keeps
    the funding fields in the AMM, Velocity (decoded as a dict) at the market's top level."""
    market = store.decoded(address)
    if isinstance(market, dict):
        market["cumulative_funding_rate_long"] += delta
        market["cumulative_funding_rate_short"] += delta
        market.update(last_funding_rate=delta, last_funding_rate_long=delta,
                      last_funding_rate_short=delta, last_funding_rate_ts=stamp)
        store.write(address, "PerpMarket", market)
        return market["cumulative_funding_rate_long"], market["cumulative_funding_rate_short"]
    amm = market.amm
    store.write(address, "PerpMarket", replace(market, amm=replace(
        amm,
        cumulative_funding_rate_long=amm.cumulative_funding_rate_long + delta,
        cumulative_funding_rate_short=amm.cumulative_funding_rate_short + delta,
        last_funding_rate=delta, last_funding_rate_long=delta, last_funding_rate_short=delta,
        last_funding_rate_ts=stamp,
    )))
    return (amm.cumulative_funding_rate_long + delta, amm.cumulative_funding_rate_short + delta)
