"""The backtest as one self-contained HTML file: the summary, and the equity curve, cumulative
funding per market and drawdown drawn by uPlot, which is inlined (no CDN, no other file)."""

from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Any

from services.backtest.report import TOTALS, drawdowns_pct
from services.backtest.runner import BacktestRun

UPLOT = Path(__file__).resolve().parents[2] / "frontend" / "vendor" / "uplot"

PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>$title</title>
<style>$uplot_css
body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1100px}
table{border-collapse:collapse;margin:12px 0}td,th{padding:4px 12px;text-align:right}
th:first-child,td:first-child{text-align:left}tr:nth-child(even){background:#f3f5f8}
h2{margin-top:28px;font-size:16px}.note{color:#5b6475;font-size:12px}</style></head>
<body>
<h1>$title</h1>
<p>$parameters</p>
<table id="summary"><tr><th></th><th>USD</th></tr>$summary_rows</table>
<p>return $net_return_pct % · max drawdown $max_drawdown_pct % · in market
$time_in_market_pct % · $events events at $events_per_second/s</p>
<table id="markets"><tr><th>market</th><th>funding USD</th><th>costs USD</th><th>net USD</th>
<th>hours held</th></tr>$market_rows</table>
<h2>Equity (USD)</h2><div id="equity"></div>
<h2>Cumulative funding by market (USD)</h2><div id="funding"></div>
<h2>Drawdown (%)</h2><div id="drawdown"></div>
<p class="note">$sources</p>
<script type="application/json" id="series">$series</script>
<script type="module">
import uPlot from "data:text/javascript;base64,$uplot_js";
const series = JSON.parse(document.getElementById("series").textContent);
const width = Math.min(1100, document.body.clientWidth);
const colours = ["#2f6fdb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285"];
function chart(id, x, lines) {
  new uPlot({width, height: 260, series: [{}, ...lines.map((line, i) =>
    ({label: line.label, stroke: colours[i % colours.length], width: 1.5}))]},
    [x, ...lines.map(line => line.values)], document.getElementById(id));
}
chart("equity", series.time, [{label: "equity", values: series.equity}]);
chart("funding", series.funding_time, series.funding);
chart("drawdown", series.time, [{label: "drawdown", values: series.drawdown}]);
document.body.dataset.drawn = "yes";
</script>
</body></html>
""")


def render(run: BacktestRun, report: dict[str, Any]) -> str:
    title = (f"Backtest {report['strategy']}: {report['start'][:10]} to {report['end'][:10]} "
             "(end exclusive)")
    return PAGE.substitute(
        title=html.escape(title),
        uplot_css=(UPLOT / "uPlot.min.css").read_text(),
        uplot_js=base64.b64encode((UPLOT / "uPlot.esm.js").read_bytes()).decode(),
        parameters=html.escape(", ".join(f"{k} {v}" for k, v in report["parameters"].items())),
        summary_rows="".join(
            f"<tr><td>{label}</td><td>{Decimal(report[key]):,.2f}</td></tr>"
            for label, key in TOTALS),
        market_rows="".join(
            f"<tr><td>{html.escape(m['market'])}</td><td>{Decimal(m['funding_usd']):,.2f}</td>"
            f"<td>{Decimal(m['costs_usd']):,.2f}</td><td>{Decimal(m['net_usd']):,.2f}</td>"
            f"<td>{m['hours_held']}</td></tr>" for m in report["markets"]),
        net_return_pct=report["net_return_pct"], max_drawdown_pct=report["max_drawdown_pct"],
        time_in_market_pct=report["time_in_market_pct"], events=report["events"],
        events_per_second=report["events_per_second"],
        sources=html.escape(_sources_line(report["sources"])),
        # Inside a <script> element: "</" must not close it.
        series=json.dumps(_series(run)).replace("</", "<\\/"),
    )


def _series(run: BacktestRun) -> dict[str, Any]:
    times = [moment.timestamp() for moment, _ in run.ledger.equity_curve]
    equity = [float(value) for _, value in run.ledger.equity_curve]
    drawdown = [-float(value) for value in drawdowns_pct(run)]
    cumulative: dict[str, float] = defaultdict(float)
    by_hour: dict[float, dict[str, float]] = {}
    for row in run.ledger.hours:
        cumulative[row.market] += float(row.funding_usd)
        by_hour.setdefault(row.time.timestamp(), {}).update(cumulative)
    markets = sorted(cumulative)
    hours = sorted(by_hour)
    filled: dict[str, list[float | None]] = {market: [] for market in markets}
    for hour in hours:
        for market in markets:
            filled[market].append(by_hour[hour].get(market))
    return {"time": times, "equity": equity, "drawdown": drawdown, "funding_time": hours,
            "funding": [{"label": market, "values": filled[market]} for market in markets]}


def _sources_line(sources: dict[str, Any]) -> str:
    rates = "; ".join(f"{market}: " + ", ".join(f"{n} h {label}" for label, n in counts.items())
                      for market, counts in sources["rates"].items())
    return (f"Rates: {rates or 'none held'}. Labels: "
            + " ".join(f"{k}: {v}." for k, v in sources["rate_labels"].items())
            + f" Venue: {sources['venue']}.")
