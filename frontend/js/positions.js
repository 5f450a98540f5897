// The combat zone: open positions from FUNDING_UPDATE, with Leave and Settle PnL.

import { $, el } from "./dom.js";
import * as fmt from "./format.js";

const SETTLE_ABOVE_USD = 1;

/** Unsettled PnL: total - settled when the venue says both, else the unrealized PnL. */
export function unsettledPnl(position) {
  if (fmt.isNum(position.total_pnl) && fmt.isNum(position.settled_pnl)) {
    return position.total_pnl - position.settled_pnl;
  }
  return fmt.isNum(position.unrealized_pnl) ? position.unrealized_pnl : 0;
}

export class PositionsView {
  constructor({ onLeave, onSettle }) {
    this.onLeave = onLeave;
    this.onSettle = onSettle;
    this.body = $("#positions-body");
    this.empty = $("#positions-empty");
    this.busyMarkets = new Map(); // market -> action label while a command runs
    this.positions = [];
  }

  setBusy(market, label) {
    if (label) this.busyMarkets.set(market, label);
    else this.busyMarkets.delete(market);
    this.render(this.positions);
  }

  bySymbol(market) {
    return this.positions.find((p) => p.market === market) || null;
  }

  render(positions) {
    this.positions = (positions || []).filter((p) => fmt.isNum(p.size) && p.size !== 0);
    this.empty.hidden = this.positions.length > 0;
    this.body.replaceChildren(...this.positions.map((position) => this.row(position)));
  }

  row(position) {
    const busyLabel = this.busyMarkets.get(position.market);
    const unsettled = unsettledPnl(position);
    const side = position.side === "short" ? "short" : "long";
    const actions = el("td", { class: "actions-col" });
    if (busyLabel) {
      actions.append(el("span", { class: "busy-label" }, el("span", { class: "spinner", "aria-hidden": "true" }), busyLabel));
    } else {
      if (Math.abs(unsettled) > SETTLE_ABOVE_USD) {
        actions.append(el("button", {
          class: "btn btn-xs", type: "button", "data-testid": "settle-button",
          title: `Settle ${fmt.signedUsd(unsettled)} of unsettled PnL`,
          onclick: () => this.onSettle(position),
        }, "Settle PnL"));
      }
      actions.append(el("button", {
        class: "btn btn-xs btn-danger-outline", type: "button", "data-testid": "leave-button",
        onclick: () => this.onLeave(position),
      }, "Leave"));
    }
    return el(
      "tr",
      { dataset: { market: position.market }, "data-testid": "position-row" },
      el("td", { class: "sym" }, position.market),
      el("td", {}, el("span", { class: `pill pill-${side}` }, side === "short" ? "Short" : "Long")),
      el("td", { class: "num", "data-testid": "position-size" }, fmt.amount(position.size)),
      el("td", { class: "num" }, fmt.price(position.entry_price)),
      el("td", { class: "num" }, fmt.price(position.mark_price)),
      el("td", { class: "num" }, fmt.usd(position.notional)),
      el("td", { class: `num strong ${fmt.signClass(position.unrealized_pnl)}`, "data-testid": "position-upnl" }, fmt.signedUsd(position.unrealized_pnl)),
      el("td", { class: "num" }, position.liq_price === null || position.liq_price === undefined ? "—" : fmt.price(position.liq_price)),
      el("td", { class: `num ${fmt.signClass(position.funding_pnl)}` }, fmt.signedUsd(position.funding_pnl, 4)),
      actions,
    );
  }
}
