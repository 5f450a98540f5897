// The account strip: health gauge, leverage meter, delta, balances (from FUNDING_UPDATE).

import { $ } from "./dom.js";
import * as fmt from "./format.js";

/** Colour band of a health value: 100 % is safe, 0 % is liquidation. */
export function healthBand(health) {
  if (!fmt.isNum(health)) return "unknown";
  if (health < 20) return "critical";
  if (health < 50) return "warning";
  if (health < 80) return "caution";
  return "good";
}

export class AccountView {
  constructor() {
    this.maxLeverage = 10;
    this.quote = "USDC";
  }

  /** The venue's quote asset, which the wallet's balance is counted in. */
  setQuote(symbol) {
    if (symbol) this.quote = symbol;
  }

  setMaxLeverage(value) {
    const number = Number(value);
    if (Number.isFinite(number) && number > 0) this.maxLeverage = number;
    $("#leverage-limit").textContent = `limit ${fmt.amount(this.maxLeverage, 1)}x`;
  }

  render(update) {
    const health = update.health;
    const band = healthBand(health);
    const gauge = $("#gauge-value");
    const filled = fmt.isNum(health) ? Math.max(0, Math.min(100, health)) : 0;
    gauge.setAttribute("stroke-dasharray", `${filled} 100`);
    gauge.dataset.band = band;
    const healthValue = $("#health-value");
    healthValue.textContent = fmt.isNum(health) ? `${health.toFixed(1)}%` : "—";
    healthValue.dataset.band = band;

    const leverage = update.leverage;
    $("#leverage-value").textContent = fmt.isNum(leverage) ? `${leverage.toFixed(2)}x` : "—";
    const ratio = fmt.isNum(leverage) ? Math.min(1, leverage / this.maxLeverage) : 0;
    const bar = $("#leverage-bar");
    bar.style.width = `${(ratio * 100).toFixed(1)}%`;
    bar.dataset.band = ratio > 0.8 ? "critical" : ratio > 0.5 ? "warning" : "good";

    const delta = $("#delta-value");
    delta.textContent = fmt.isNum(update.net_delta) ? `${fmt.signedAmount(update.net_delta)} SOL` : "—";
    const drift = update.drift_pct;
    const driftNode = $("#drift-value");
    driftNode.textContent = `drift ${fmt.signedPct(drift)}`;
    driftNode.className = `small ${fmt.isNum(drift) && Math.abs(drift) > 1 ? "warning-text" : "muted"}`;

    $("#legs-value").textContent = `${fmt.amount(update.spot_sol, 3)} / ${fmt.signedAmount(update.perp_sol, 3)}`;
    $("#sol-price").textContent = `SOL ${fmt.price(update.sol_price)}`;
    $("#collateral-value").textContent = fmt.usd(update.total_collateral);
    $("#free-collateral").textContent = `free ${fmt.usd(update.free_collateral)}`;
    $("#equity-value").textContent = fmt.usd(update.equity);
    $("#wallet-usdc").textContent = `wallet ${fmt.usd(update.wallet_usdc)} ${this.quote}`;
    const funding = $("#funding-received");
    funding.textContent = fmt.signedUsd(update.funding_received, 4);
    funding.className = `metric-value ${fmt.signClass(update.funding_received)}`;
    const trading = $("#trading-state");
    trading.textContent = update.trading_enabled === false ? `trading blocked: ${update.blocked_reason || "unknown"}` : "";
    trading.className = update.trading_enabled === false ? "small warning-text" : "muted small";
    $("#account-updated").textContent = update.timestamp ? `· ${fmt.utc(update.timestamp)}` : "";
  }
}
