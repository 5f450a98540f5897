"""Drift Data API stand-in: GET /fundingRates (legacy) and GET /market/{symbol}/fundingRates.

Shapes (drift-labs/v2-teacher source/includes/_data_api.md, and published responses that
services/feed/history_import.py parses):
- legacy `{"fundingRates": [...]}`: raw integer strings, fundingRate in quote per base x 1e9,
  oraclePriceTwap / markPriceTwap x 1e6, ts in seconds, marketIndex;
- newer `{"success": true, "records": [...], "meta": {"nextPage": ...}}`: the same names,
  scaled to decimals.

What is served: there is no recorded hourly history. Each recorded daily average
(daily_funding_SOL_BTC_ETH_2026.json) is expanded to its 24 hours at that average, priced at the
market's recorded oracle TWAP (the snapshot account's last_oracle_price_twap), and the hour the
snapshot account itself settled (last_funding_rate at last_funding_rate_ts) is served as
recorded, replacing its expanded hour. Records carry `recordSource` ("daily-average" or
"account") so nobody mistakes one for the other; importers ignore the extra field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from driftpy.constants.numeric_constants import FUNDING_RATE_PRECISION, PRICE_PRECISION

from services.feed.daily_funding import load_daily_funding
from services.venue_sim.accounts import AccountStore
from services.venue_sim.drift_coder import serves_velocity

# Drift settles funding a few seconds after the hour (the SOL-PERP account shows 16:00:08).
SETTLE_DELAY = timedelta(seconds=8)
HOUR = timedelta(hours=1)
DEFAULT_PAGE_SIZE = 1_000
MAX_PAGE_SIZE = 5_000


@dataclass(frozen=True)
class HourlyFunding:
    market_index: int
    symbol: str
    ts: int                         # settlement time, seconds
    funding_rate: int               # quote per base x 1e9
    oracle_twap: int                # x 1e6
    mark_twap: int | None
    source: str                     # "daily-average" or "account"
    extra: tuple[tuple[str, str], ...] = ()

    def legacy(self) -> dict[str, Any]:
        record = {"ts": str(self.ts), "marketIndex": self.market_index,
                  "fundingRate": str(self.funding_rate), "oraclePriceTwap": str(self.oracle_twap),
                  "recordSource": self.source}
        if self.mark_twap is not None:
            record["markPriceTwap"] = str(self.mark_twap)
        record.update(dict(self.extra))
        return record

    def scaled(self) -> dict[str, Any]:
        record = {"ts": self.ts, "marketIndex": self.market_index, "symbol": self.symbol,
                  "fundingRate": str(Decimal(self.funding_rate) / FUNDING_RATE_PRECISION),
                  "oraclePriceTwap": str(Decimal(self.oracle_twap) / PRICE_PRECISION),
                  "recordSource": self.source}
        if self.mark_twap is not None:
            record["markPriceTwap"] = str(Decimal(self.mark_twap) / PRICE_PRECISION)
        return record


def _symbol(market: Any) -> str:
    return bytes(market.name).decode(errors="replace").strip()


def _settled_hour(ts: int) -> int:
    """The hour boundary a settlement belongs to (the nearest one), as history_import reads it."""
    return (ts + 1800) // 3600


def funding_history(store: AccountStore, data_dir: Path) -> dict[str, list[HourlyFunding]]:
    """{symbol: hourly records in ts order} for every served perpetual market."""
    history: dict[str, list[HourlyFunding]] = {}
    if serves_velocity(store.profile):
        return history  # Velocity publishes no Data API (its profile's data_api_url is empty)
    daily = load_daily_funding(data_dir)
    for account in store.of_kind("PerpMarket"):
        market = store.coder.decode(account.data)
        if type(market.contract_type).__name__ != "Perpetual":
            continue
        symbol, amm = _symbol(market), market.amm
        twap = amm.historical_oracle_data.last_oracle_price_twap
        hours: dict[int, HourlyFunding] = {}
        for day, avg_rate in daily.get(symbol, {}).items():
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            rate = int((avg_rate * twap * FUNDING_RATE_PRECISION / PRICE_PRECISION)
                       .to_integral_value())
            for hour in range(24):
                ts = int((start + hour * HOUR + HOUR + SETTLE_DELAY).timestamp())
                hours[_settled_hour(ts)] = HourlyFunding(
                    market.market_index, symbol, ts, rate, twap, None, "daily-average"
                )
        if amm.last_funding_rate_ts:
            ts = amm.last_funding_rate_ts
            hours[_settled_hour(ts)] = HourlyFunding(
                market.market_index, symbol, ts, amm.last_funding_rate, twap,
                amm.last_mark_price_twap, "account",
                (("fundingRateLong", str(amm.last_funding_rate_long)),
                 ("fundingRateShort", str(amm.last_funding_rate_short)),
                 ("cumulativeFundingRateLong", str(amm.cumulative_funding_rate_long)),
                 ("cumulativeFundingRateShort", str(amm.cumulative_funding_rate_short)),
                 ("slot", str(amm.last_update_slot))),
            )
        history[symbol] = [hours[key] for key in sorted(hours)]
    return history


def _bad_request(message: str, shape: str) -> web.Response:
    body = {"success": False, "error": message} if shape == "scaled" else {"error": message}
    return web.json_response(body, status=400)


def data_api_app(store: AccountStore, data_dir: Path) -> web.Application:
    history = funding_history(store, data_dir)
    by_index = {records[0].market_index: symbol for symbol, records in history.items() if records}

    async def legacy(request: web.Request) -> web.Response:
        names = request.query.get("marketName")
        indices = request.query.get("marketIndex")
        symbols: list[str] = []
        try:
            if names:
                symbols = [name.strip().upper() for name in names.split(",")]
            elif indices:
                symbols = [by_index[int(index)] for index in indices.split(",")]
            else:
                return _bad_request("marketName or marketIndex is required", "legacy")
        except (KeyError, ValueError):
            return _bad_request(f"no perp market with marketIndex {indices}", "legacy")
        unknown = [symbol for symbol in symbols if symbol not in history]
        if unknown:
            return _bad_request(f"unknown market {', '.join(unknown)}", "legacy")
        records = [record.legacy() for symbol in symbols for record in history[symbol]]
        return web.json_response({"fundingRates": records})

    async def scaled(request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"].upper()
        if symbol not in history:
            return _bad_request(f"unknown market {symbol}", "scaled")
        try:
            limit = int(request.query.get("limit", DEFAULT_PAGE_SIZE))
            page = int(request.query.get("page", 0))
            if not 1 <= limit <= MAX_PAGE_SIZE or page < 0:
                raise ValueError
        except ValueError:
            return _bad_request(f"limit must be 1..{MAX_PAGE_SIZE} and page >= 0", "scaled")
        records = history[symbol][page * limit:(page + 1) * limit]
        more = (page + 1) * limit < len(history[symbol])
        return web.json_response({
            "success": True, "records": [record.scaled() for record in records],
            "meta": {"nextPage": page + 1 if more else None},
        })

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/fundingRates", legacy)
    app.router.add_get("/market/{symbol}/fundingRates", scaled)
    app.router.add_get("/health", health)
    return app
