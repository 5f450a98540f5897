// The Backtest panel: POST /api/backtest, read its JSON lines (progress, then the report), draw
// the equity curve and cumulative funding with uPlot. Cancel drops the request, which stops the
// engine's worker.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { AXIS } from "./chart.js";
import { $, $$, el } from "./dom.js";
import * as fmt from "./format.js";

export class BacktestView {
  constructor(token) {
    this.token = token;
    this.form = $("#bt-form");
    this.runButton = $("#bt-run");
    this.cancelButton = $("#bt-cancel");
    this.status = $("#bt-status");
    this.progress = $("#bt-progress");
    this.controller = null;
    this.plot = null;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    this.cancelButton.addEventListener("click", () => this.controller?.abort());
    $("#bt-strategy").addEventListener("change", () => this.showFields());
    this.showFields();
  }

  showFields() {
    const strategy = $("#bt-strategy").value;
    for (const field of $$("[data-strategies]", this.form)) {
      field.hidden = !field.dataset.strategies.split(" ").includes(strategy);
    }
  }

  request() {
    const value = (id) => $(id).value.trim();
    const strategy = value("#bt-strategy");
    const body = { strategy, start: value("#bt-start"), end: value("#bt-end"), capital: value("#bt-capital") };
    if (strategy === "hold") Object.assign(body, { market: value("#bt-market").toUpperCase(), side: value("#bt-side") });
    if (strategy !== "rotate") body.size = value("#bt-size");
    if (strategy === "rotate") {
      Object.assign(body, { min_hold_hours: Number(value("#bt-min-hold")) || 0,
        exit_apr: value("#bt-exit-apr"), switch_margin_apr: value("#bt-switch") });
    }
    if ($("#bt-walk").checked) Object.assign(body, { random_walk: true, random_walk_seed: Number(value("#bt-seed")) || 0 });
    if ($("#bt-ungated").checked) body.ungated = true;
    return body;
  }

  async run() {
    if (!this.token) {
      this.say("No API token: open the dashboard with the URL the gateway printed.", "error");
      return;
    }
    this.controller = new AbortController();
    this.running(true);
    this.say("Starting…");
    try {
      const response = await fetch("/api/backtest", {
        method: "POST", signal: this.controller.signal,
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.token}` },
        body: JSON.stringify(this.request()),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const error = body.error || {};
        this.say(`Refused (${error.code || `HTTP ${response.status}`}): ${error.message || "no reason given"}`, "error");
        return;
      }
      await this.read(response.body.getReader());
    } catch (error) {
      if (error.name === "AbortError") this.say("Cancelled.");
      else this.say(`The backtest failed: ${error.message}`, "error");
    } finally {
      this.running(false);
      this.controller = null;
    }
  }

  async read(reader) {
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        this.frame(JSON.parse(pending.slice(0, newline)));
        pending = pending.slice(newline + 1);
      }
    }
  }

  frame(line) {
    if (line.type === "progress") {
      const share = line.hours_total ? (100 * line.hours_done) / line.hours_total : 0;
      this.progress.style.width = `${share}%`;
      this.say(`Running: ${line.hours_done} of ${line.hours_total} hours`);
    } else if (line.type === "result") {
      this.progress.style.width = "100%";
      this.show(line.report);
      this.say(`Done: ${line.report.events} events in ${line.report.seconds} s.`);
    } else if (line.type === "error") {
      this.say(`Refused (${line.code}): ${line.message}`, "error");
    }
  }

  show(report) {
    const n = (key) => Number(report[key]);
    const cell = (value, signed = false) => el("td", { class: signed ? fmt.signClass(value) : "" },
      signed ? fmt.signedUsd(value) : fmt.usd(value));
    $("#bt-summary-row").replaceChildren(
      cell(n("funding_pnl_usd"), true), cell(n("fees_usd")), cell(n("slippage_usd")),
      cell(n("price_pnl_usd"), true), cell(n("net_pnl_usd"), true),
      el("td", {}, `${fmt.pct(n("net_return_pct"), 3)}`), el("td", {}, `${fmt.pct(n("max_drawdown_pct"), 3)}`),
      el("td", {}, String(report.trades.length)));
    $("#bt-markets-body").replaceChildren(...report.markets.map((m) => el("tr", {},
      el("td", {}, m.market), cell(Number(m.funding_usd), true), cell(Number(m.costs_usd)),
      cell(Number(m.net_usd), true), el("td", {}, String(m.hours_held)))));
    const rates = Object.entries(report.sources.rates).map(([market, counts]) =>
      `${market}: ${Object.entries(counts).map(([label, hours]) => `${hours} h ${label}`).join(", ")}`);
    $("#bt-sources").textContent = `Rates: ${rates.join("; ") || "no position held"}. Prices: ${report.parameters.prices}.`;
    // What the engine's gates refused (a strategy asks again each hour), or that none were run.
    const refused = report.refusals.map((r) => el("li", {},
      `${r.kind} ${r.side} ${r.market}: refused ${r.count}× by the ${r.gate} gate (${r.code}), `
      + `${r.first.slice(0, 16)} to ${r.last.slice(0, 16)}: ${r.reason}`));
    $("#bt-refusals").replaceChildren(...(report.gated
      ? (refused.length ? refused : [el("li", {}, "Every order passed the engine's gates.")])
      : [el("li", {}, report.strategy === "hold"
        ? "The baseline: held as asked, the engine's gates not asked."
        : "Ungated: every order went to the venue as asked, past the engine's gates.")]));
    $("#bt-result").hidden = false;
    this.draw(report);
  }

  draw(report) {
    const times = report.equity_curve.map((point) => Date.parse(point.time) / 1000);
    const equity = report.equity_curve.map((point) => Number(point.equity_usd));
    const funding = [];
    let total = 0;
    const byHour = new Map();
    for (const row of report.ledger) {
      total += Number(row.funding_usd);
      byHour.set(Date.parse(row.time) / 1000 + 3600, total);
    }
    let last = 0;
    for (const time of times) {
      if (byHour.has(time)) last = byHour.get(time);
      funding.push(last);
    }
    this.plot?.destroy();
    const root = $("#bt-chart");
    const dollars = (u, ticks) => ticks.map((v) => fmt.usd(v, 0));
    this.plot = new uPlot({
      width: Math.max(320, root.clientWidth), height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      series: [{ label: "UTC", value: "{YYYY}-{MM}-{DD} {HH}:00" },
        { label: "equity", stroke: "#4c8dff", width: 1.5, scale: "equity", value: (u, v) => fmt.usd(v) },
        { label: "cumulative funding", stroke: "#2ebd85", width: 1.5, scale: "funding",
          value: (u, v) => fmt.signedUsd(v) }],
      // Wide enough for "$1,234,567" on the left and "-$12,345" on the right.
      axes: [{ ...AXIS }, { ...AXIS, scale: "equity", size: 84, values: dollars },
        { ...AXIS, scale: "funding", side: 1, size: 76, values: dollars, grid: { show: false } }],
    }, [times, equity, funding], root);
  }

  running(on) {
    this.runButton.disabled = on;
    this.cancelButton.hidden = !on;
    if (on) {
      this.progress.style.width = "0%";
      this.status.dataset.state = "";
    }
  }

  say(text, state = "") {
    this.status.textContent = text;
    this.status.dataset.state = state;
  }
}
