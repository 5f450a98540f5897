// The selected market's funding history (GET /api/drift/markets/{symbol}/funding), drawn with
// uPlot (vendored, MIT; see vendor/README.md).

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { $ } from "./dom.js";
import * as fmt from "./format.js";

// The dashboard's axes on its dark panels (the funding chart and the backtest's).
export const AXIS = {
  stroke: "#8b949e",
  grid: { stroke: "rgba(139,148,158,0.12)", width: 1 },
  ticks: { stroke: "rgba(139,148,158,0.25)", width: 1 },
  font: "11px system-ui, sans-serif",
};

const POSITIVE = "#2ebd85";
const NEGATIVE = "#f6465d";

export class FundingChart {
  constructor(api) {
    this.api = api;
    this.root = $("#chart");
    this.status = $("#chart-status");
    this.plot = null;
    this.symbol = null;
    this.hours = 168;
    this.request = 0;
    new ResizeObserver(() => this.resize()).observe(this.root);
  }

  setHours(hours) {
    this.hours = hours;
    if (this.symbol) this.load(this.symbol);
  }

  async load(symbol) {
    this.symbol = symbol;
    $("#chart-market").textContent = symbol;
    const request = ++this.request;
    this.status.textContent = "Loading…";
    try {
      const data = await this.api.funding(symbol, this.hours);
      if (request !== this.request) return;
      this.draw(data.records || []);
    } catch (error) {
      if (request !== this.request) return;
      this.clear();
      this.status.textContent = `Funding history unavailable: ${error.message} (${error.code})`;
    }
  }

  draw(records) {
    if (!records.length) {
      this.clear();
      this.status.textContent = "No funding records in this range.";
      return;
    }
    const xs = records.map((r) => Date.parse(r.period_start) / 1000);
    const ys = records.map((r) => r.apr);
    const last = records[records.length - 1];
    const mean = ys.reduce((sum, v) => sum + v, 0) / ys.length;
    this.status.textContent = `${records.length} hourly records · latest ${fmt.signedPct(last.apr)} APR · mean ${fmt.signedPct(mean)} APR · ${last.source || ""}`;
    this.clear();
    const width = Math.max(240, this.root.clientWidth);
    // The axis spans the chosen window ending with the last record's hour: left to itself,
    // uPlot widens a single point (the replay's first hour) to years on either side.
    const end = xs[xs.length - 1] + 3600;
    const span = [end - this.hours * 3600, end];
    this.plot = new uPlot(this.options(width, span, xs.length < 2), [xs, ys], this.root);
    this.drawnHours = this.hours;
  }

  options(width, span, showPoints) {
    return {
      width,
      height: 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => span } },
      axes: [
        { ...AXIS },
        { ...AXIS, size: 56, values: (u, ticks) => ticks.map((v) => `${v.toFixed(1)}%`) },
      ],
      series: [
        { label: "UTC", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
        {
          label: "APR",
          value: (u, v) => (v === null ? "—" : fmt.signedPct(v)),
          width: 1.5,
          stroke: (u) => gradient(u, POSITIVE, NEGATIVE),
          fill: (u) => gradient(u, "rgba(46,189,133,0.18)", "rgba(246,70,93,0.18)"),
          points: { show: showPoints, size: 6 },
        },
      ],
    };
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(240, this.root.clientWidth), height: 220 });
  }

  clear() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }
}

/** Green above zero, red below: a hard-stop gradient at y = 0. */
function gradient(u, above, below) {
  const scale = u.scales.y;
  if (scale.min === undefined || scale.max === undefined || scale.min === null) return above;
  if (scale.min >= 0) return above;
  if (scale.max <= 0) return below;
  const top = u.valToPos(scale.max, "y", true);
  const bottom = u.valToPos(scale.min, "y", true);
  const zero = u.valToPos(0, "y", true);
  const stop = Math.min(1, Math.max(0, (zero - top) / (bottom - top)));
  const g = u.ctx.createLinearGradient(0, top, 0, bottom);
  g.addColorStop(0, above);
  g.addColorStop(stop, above);
  g.addColorStop(stop, below);
  g.addColorStop(1, below);
  return g;
}
