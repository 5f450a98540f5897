"""A backtest's result as the JSON `dne backtest --json` writes: totals, attribution, trades,
the hourly ledger, and where every number came from."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from services.backtest.ledger import ZERO
from services.backtest.runner import BacktestRun
from services.common.decimals import to_wire

HUNDRED = Decimal(100)
# The totals a summary shows, in order: (label, report key).
TOTALS = (("funding", "funding_pnl_usd"), ("fees", "fees_usd"), ("slippage", "slippage_usd"),
          ("price moves", "price_pnl_usd"), ("net", "net_pnl_usd"))


def summary(run: BacktestRun, parameters: dict[str, Any]) -> dict[str, Any]:
    ledger = run.ledger
    funding = sum((row.funding_usd for row in ledger.hours), ZERO)
    fees = sum((trade.fee_usd for trade in ledger.trades), ZERO)
    slippage = sum((trade.slippage_usd for trade in ledger.trades), ZERO)
    net = run.final_equity - run.capital
    total_hours = int((run.end - run.start).total_seconds() // 3600)
    held_hours = len({row.time for row in ledger.hours})
    return {
        "strategy": run.strategy,
        "parameters": parameters,
        "start": run.start.isoformat(),
        "end": run.end.isoformat(),
        "capital_usd": _usd(run.capital),
        "final_equity_usd": _usd(run.final_equity),
        "funding_pnl_usd": _usd(funding),
        "fees_usd": _usd(fees),
        "slippage_usd": _usd(slippage),
        # What is left when funding, fees and slippage are taken out: price moves of the
        # positions held (zero on the recorded, held prices).
        "price_pnl_usd": _usd(net - funding + fees + slippage),
        "net_pnl_usd": _usd(net),
        "net_return_pct": _pct(net / run.capital * HUNDRED if run.capital else ZERO),
        "max_drawdown_pct": _pct(max_drawdown_pct(run)),
        "time_in_market_pct": _pct(Decimal(held_hours) / total_hours * HUNDRED
                                   if total_hours else ZERO),
        "hours": total_hours,
        "gated": run.gated,
        "refusals": refusals(run),
        "markets": attribution(run),
        "trades": [
            {"time": t.time.isoformat(), "market": t.market, "kind": t.kind, "side": t.side,
             "size": to_wire(t.size), "price": to_wire(t.price),
             "oracle_price": to_wire(t.oracle_price), "fee_usd": _usd(t.fee_usd),
             "slippage_usd": _usd(t.slippage_usd), "reason": t.reason}
            for t in ledger.trades
        ],
        "events": run.events,
        "events_per_second": round(run.events / run.seconds) if run.seconds else None,
        "seconds": round(run.seconds, 3),
        "sources": sources(run),
        "equity_curve": [{"time": moment.isoformat(), "equity_usd": _usd(value)}
                         for moment, value in ledger.equity_curve],
        "ledger": [
            {"time": row.time.isoformat(), "market": row.market, "rate_1h": to_wire(row.rate_1h),
             "rate_source": row.rate_source, "price": to_wire(row.price),
             "price_source": row.price_source, "position": to_wire(row.position),
             "funding_usd": to_wire(row.funding_usd), "equity_usd": to_wire(row.equity_usd)}
            for row in ledger.hours
        ],
    }


def refusals(run: BacktestRun) -> list[dict[str, Any]]:
    """The orders the engine's gates refused, one row per market, kind, side and gate: how
    often, from when to when, and the first refusal's reason (a strategy asks again each hour)."""
    rows: dict[tuple[str, ...], dict[str, Any]] = {}
    for refused in run.ledger.refusals:
        key = (refused.market, refused.kind, refused.side, refused.gate, refused.code)
        row = rows.get(key)
        if row is None:
            rows[key] = {"market": refused.market, "kind": refused.kind, "side": refused.side,
                         "gate": refused.gate, "code": refused.code, "count": 1,
                         "first": refused.time.isoformat(), "last": refused.time.isoformat(),
                         "reason": refused.reason}
        else:
            row["count"] += 1
            row["last"] = refused.time.isoformat()
    return list(rows.values())


def attribution(run: BacktestRun) -> list[dict[str, Any]]:
    """Per market: funding received, fees and slippage paid, hours held."""
    funding: dict[str, Decimal] = defaultdict(lambda: ZERO)
    costs: dict[str, Decimal] = defaultdict(lambda: ZERO)
    hours: Counter[str] = Counter()
    for row in run.ledger.hours:
        funding[row.market] += row.funding_usd
        hours[row.market] += 1
    for trade in run.ledger.trades:
        costs[trade.market] += trade.fee_usd + trade.slippage_usd
    markets = sorted(set(funding) | set(costs))
    return [{"market": market, "funding_usd": _usd(funding[market]),
             "costs_usd": _usd(costs[market]),
             "net_usd": _usd(funding[market] - costs[market]), "hours_held": hours[market]}
            for market in markets]


def drawdowns_pct(run: BacktestRun) -> list[Decimal]:
    """At each point of the equity curve, how far below its peak so far it stands, in %."""
    peak, drawdowns = ZERO, []
    for _, equity in run.ledger.equity_curve:
        peak = max(peak, equity)
        drawdowns.append((peak - equity) / peak * HUNDRED if peak > 0 else ZERO)
    return drawdowns


def max_drawdown_pct(run: BacktestRun) -> Decimal:
    return max(drawdowns_pct(run), default=ZERO)


def sources(run: BacktestRun) -> dict[str, Any]:
    """Where the numbers came from: rate sources by market-hours, the price source, the venue."""
    rates: dict[str, Counter[str]] = defaultdict(Counter)
    prices: dict[str, Counter[str]] = defaultdict(Counter)
    for row in run.ledger.hours:
        rates[row.market][row.rate_source] += 1
        prices[row.market][row.price_source] += 1
    return {
        "rates": {market: dict(counts) for market, counts in sorted(rates.items())},
        "prices": {market: dict(counts) for market, counts in sorted(prices.items())},
        "venue": "the paper venue's own fills, taker fee, size-dependent slippage, margin and "
                 "hourly funding (services/executor/paper_driver.py), in process",
        "rate_labels": {
            "recorded_daily_average": "the recorded daily average of Drift's hourly rate, "
                                      "applied to every hour of its day",
            "imported_hourly": "an hourly record imported with `dne data import`",
            "snapshot_held": "the market's last settled rate in its recorded account, held",
        },
        "price_labels": {
            "snapshot_held": "the market's recorded oracle price, held",
            "scenario": "a price scenario supplied for the run",
        },
    }


def _usd(value: Decimal) -> str:
    return to_wire(value.quantize(Decimal("0.000001")))


def _pct(value: Decimal) -> str:
    return to_wire(value.quantize(Decimal("0.0001")))
