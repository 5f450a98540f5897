// The dialogs: take a position, confirm a trade over the threshold (with auto-cancel), leave a
// position, and the amount prompt of the quick actions. Each answers a Promise.

import { $, el } from "./dom.js";
import * as fmt from "./format.js";
import { hedgeLongRefusal, receivingSide } from "./markets.js";

const MAX_NOTIONAL_USD = 10_000_000; // a typo guard; the engine's gates decide what is allowed
const MAX_DECIMALS = 9;
const DECIMAL = /^(\d+)(\.(\d+))?$/;

/** Validates a user-typed positive decimal; answers {value: string} or {error}. */
export function parsePositiveDecimal(text, { label = "Size", max = Infinity } = {}) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return { error: `${label} is required.` };
  // "2,5" could mean 2.5 or 25: refuse rather than guess with money.
  if (trimmed.includes(",")) return { error: `${label}: use a dot for decimals (1.5) and no thousands separators.` };
  const match = DECIMAL.exec(trimmed);
  if (!match) return { error: `${label} must be a plain positive number, like 1.5.` };
  if ((match[3] || "").length > MAX_DECIMALS) return { error: `${label} has more than ${MAX_DECIMALS} decimals.` };
  const number = Number(trimmed);
  if (!Number.isFinite(number)) return { error: `${label} is not a finite number.` };
  if (number <= 0) return { error: `${label} must be greater than zero.` };
  if (number > max) return { error: `${label} must be at most ${fmt.amount(max)}.` };
  return { value: trimmed, number };
}

function openDialog(dialog) {
  if (!dialog.open) dialog.showModal();
}

/** Wires [data-close] buttons and Escape to a callback. */
function onDismiss(dialog, callback) {
  for (const button of dialog.querySelectorAll("[data-close]")) button.addEventListener("click", () => callback());
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    callback();
  });
}

export class TakeModal {
  constructor() {
    this.dialog = $("#take-modal");
    this.form = $("#take-form");
    this.size = $("#take-size");
    this.submit = $("#take-submit");
    this.error = $("#take-error");
    this.market = null;
    this.onSubmit = null;
    onDismiss(this.dialog, () => this.close());
    this.size.addEventListener("input", () => this.update());
    for (const radio of this.form.elements.side) radio.addEventListener("change", () => this.update());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.refusal()) return; // said in the hint; the engine would refuse it anyway
      const check = this.validate();
      if (check.error) {
        this.error.textContent = check.error;
        this.size.setAttribute("aria-invalid", "true");
        this.size.focus();
        return;
      }
      this.onSubmit?.({ market: this.market.symbol, direction: this.side(), size: check.value });
    });
  }

  /** Opens for a market; `account` (the last FUNDING_UPDATE) sizes the hint; no long is sent
   * on `hedgeMarket`. */
  open(market, account, onSubmit, { hedgeMarket = null } = {}) {
    this.market = market;
    this.hedgeMarket = hedgeMarket;
    this.account = account;
    this.onSubmit = onSubmit;
    $("#take-market").textContent = market.symbol;
    $("#take-unit").textContent = `(${market.symbol.replace(/-PERP$/, "")})`;
    $("#take-summary").textContent = `APR ${fmt.signedPct(market.apr)} · rate 1h ${fmt.ratePct(market.rate_1h)} · OI ${fmt.usdCompact(market.open_interest)}`;
    const preferred = receivingSide(market);
    for (const radio of this.form.elements.side) radio.checked = radio.value === preferred;
    this.size.value = "";
    this.error.textContent = "";
    this.size.removeAttribute("aria-invalid");
    this.setBusy(false);
    this.update();
    openDialog(this.dialog);
    this.size.focus();
  }

  side() {
    return this.form.elements.side.value || receivingSide(this.market);
  }

  refusal() {
    return this.market ? hedgeLongRefusal(this.market, this.side(), this.hedgeMarket) : "";
  }

  price() {
    return this.market.oracle_price || this.market.mark_price;
  }

  maxSize() {
    const price = this.price();
    return fmt.isNum(price) && price > 0 ? MAX_NOTIONAL_USD / price : Infinity;
  }

  validate() {
    return parsePositiveDecimal(this.size.value, { label: "Size", max: this.maxSize() });
  }

  update() {
    if (!this.market) return;
    const side = this.side();
    const receives = receivingSide(this.market) === side;
    const hint = $("#take-side-hint");
    const refusal = this.refusal();
    if (refusal) {
      hint.textContent = refusal;
      hint.className = "small warning-text";
    } else {
      hint.textContent = receives
        ? `${side === "short" ? "Shorts" : "Longs"} receive funding at the current rate.`
        : `${side === "short" ? "Shorts" : "Longs"} PAY funding at the current rate.`;
      hint.className = `small ${receives ? "positive" : "warning-text"}`;
    }
    if (!this.submit.classList.contains("is-busy")) this.submit.disabled = Boolean(refusal);
    $("#take-price").textContent = fmt.price(this.price());
    const check = this.validate();
    const notional = check.number ? check.number * this.price() : null;
    $("#take-notional").textContent = notional !== null ? fmt.usd(notional) : "—";
    if (this.size.value.trim() && check.error) {
      this.error.textContent = check.error;
      this.size.setAttribute("aria-invalid", "true");
    } else {
      this.error.textContent = "";
      this.size.removeAttribute("aria-invalid");
    }
  }

  setBusy(isBusy) {
    this.submit.disabled = isBusy || Boolean(this.refusal());
    this.submit.classList.toggle("is-busy", isBusy);
    this.submit.replaceChildren(...(isBusy ? [el("span", { class: "spinner", "aria-hidden": "true" }), "Sending…"] : ["Review & send"]));
  }

  showError(text) {
    this.error.textContent = text;
  }

  close() {
    this.onSubmit = null;
    if (this.dialog.open) this.dialog.close();
  }
}

const DETAIL_ROWS = [
  ["market", "Market", (v) => v],
  ["side", "Side", (v) => String(v).toUpperCase()],
  ["direction", "Direction", (v) => String(v).toUpperCase()],
  ["size", "Size", (v) => fmt.amount(Number(v), 6)],
  ["price", "Price", (v) => fmt.price(Number(v))],
  ["notional", "Notional", (v) => fmt.usd(Number(v))],
  ["fees", "Est. fees", (v) => fmt.usd(Number(v), 4)],
  ["estimated_fees", "Est. fees", (v) => fmt.usd(Number(v), 4)],
  ["spot_leg_buy_sol", "Spot leg: buy SOL", (v) => fmt.amount(Number(v), 6)],
];

export class ConfirmModal {
  constructor() {
    this.dialog = $("#confirm-modal");
    this.submit = $("#confirm-submit");
    this.resolve = null;
    this.timer = null;
    this.ticker = null;
    onDismiss(this.dialog, () => this.finish(false, "cancelled"));
    this.submit.addEventListener("click", () => this.finish(true, "confirmed"));
  }

  /**
   * Shows the engine's quote of the trade (its details; `note` says why it asks again) for as
   * long as the quote is valid; answers {confirmed, reason} ("confirmed", "cancelled", "timeout").
   */
  ask(details, { title = "Confirm trade", timeoutSec = 30, note = "" } = {}) {
    this.finish(false, "replaced");
    $("#confirm-title").textContent = title;
    $("#confirm-note").textContent = note;
    $("#confirm-note").hidden = !note;
    const rows = [];
    const shown = new Set();
    for (const [key, label, format] of DETAIL_ROWS) {
      if (details[key] === undefined || details[key] === "" || (key === "estimated_fees" && shown.has("fees"))) continue;
      shown.add(key === "estimated_fees" ? "fees" : key);
      rows.push(el("dt", {}, label), el("dd", { "data-detail": key === "estimated_fees" ? "fees" : key }, format(details[key])));
    }
    $("#confirm-details").replaceChildren(...rows);
    const deadline = Date.now() + timeoutSec * 1000;
    const tick = () => {
      const left = Math.max(0, deadline - Date.now());
      $("#confirm-countdown").textContent = String(Math.ceil(left / 1000));
      $("#confirm-bar").style.width = `${(left / (timeoutSec * 1000)) * 100}%`;
    };
    tick();
    this.ticker = setInterval(tick, 250);
    this.timer = setTimeout(() => this.finish(false, "timeout"), timeoutSec * 1000);
    openDialog(this.dialog);
    this.submit.focus();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  finish(confirmed, reason) {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.timer = null;
    this.ticker = null;
    if (this.dialog.open) this.dialog.close();
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.({ confirmed, reason });
  }
}

export class LeaveModal {
  constructor() {
    this.dialog = $("#leave-modal");
    this.submit = $("#leave-submit");
    this.resolve = null;
    onDismiss(this.dialog, () => this.finish(false));
    this.submit.addEventListener("click", () => this.finish(true));
  }

  /** Resolves false when cancelled, else { unwindSpot } (offered for a short on the hedge market). */
  ask(position, { hedgeMarket = null, spotSol = 0, reservedSol = 0.017 } = {}) {
    $("#leave-market").textContent = position.market;
    const spotLeg = Math.min(Number(position.size) || 0, Math.max((Number(spotSol) || 0) - reservedSol, 0));
    const offer = position.market === hedgeMarket && String(position.side) === "short" && spotLeg > 0;
    $("#leave-unwind-row").hidden = !offer;
    $("#leave-unwind").checked = offer;
    $("#leave-unwind-size").textContent = fmt.amount(spotLeg, 6);
    $("#leave-details").replaceChildren(
      el("dt", {}, "Side"), el("dd", {}, String(position.side).toUpperCase()),
      el("dt", {}, "Size"), el("dd", {}, fmt.amount(position.size)),
      el("dt", {}, "Mark"), el("dd", {}, fmt.price(position.mark_price)),
      el("dt", {}, "Notional"), el("dd", {}, fmt.usd(position.notional)),
      el("dt", {}, "Unrealized PnL"), el("dd", { class: fmt.signClass(position.unrealized_pnl) }, fmt.signedUsd(position.unrealized_pnl)),
    );
    openDialog(this.dialog);
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  finish(confirmed) {
    if (this.dialog.open) this.dialog.close();
    const resolve = this.resolve;
    this.resolve = null;
    const unwindSpot = !$("#leave-unwind-row").hidden && $("#leave-unwind").checked;
    resolve?.(confirmed ? { unwindSpot } : false);
  }
}

// Written for the venue's quote asset (USDC on Drift, USDT on Velocity) and name.
const quickActions = (quote, venue) => ({
  DRIFT_DEPOSIT: { title: "Deposit collateral", label: `Amount (${quote})`, hint: `Moves ${quote} from the wallet into the ${venue} sub-account.`, field: "amount" },
  DRIFT_WITHDRAW: { title: "Withdraw collateral", label: `Amount (${quote})`, hint: "Refused when it would drop account health too low.", field: "amount" },
  DRIFT_SWAP: { title: "Buy SOL (spot leg)", label: "Size (SOL)", hint: `Buys SOL with wallet ${quote} at the oracle price.`, field: "size" },
});

export class AmountModal {
  constructor() {
    this.dialog = $("#amount-modal");
    this.form = $("#amount-form");
    this.input = $("#amount-input");
    this.error = $("#amount-error");
    this.resolve = null;
    this.actions = quickActions("USDC", "Drift");
    onDismiss(this.dialog, () => this.finish(null));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const check = parsePositiveDecimal(this.input.value, { label: this.label, max: 1e9 });
      if (check.error) {
        this.error.textContent = check.error;
        return;
      }
      this.finish(check.value);
    });
  }

  setVenue(quote, venue) {
    this.actions = quickActions(quote, venue);
  }

  /** Answers the payload to send, or null. */
  ask(action) {
    const spec = this.actions[action];
    this.label = spec.field === "size" ? "Size" : "Amount";
    $("#amount-title").textContent = spec.title;
    $("#amount-label").textContent = spec.label;
    $("#amount-hint").textContent = spec.hint;
    this.input.value = "";
    this.error.textContent = "";
    openDialog(this.dialog);
    this.input.focus();
    return new Promise((resolve) => {
      this.resolve = (value) => resolve(value === null ? null : action === "DRIFT_SWAP"
        ? { direction: "buy", size: value, confirmation_id: "" }
        : { amount: value });
    });
  }

  finish(value) {
    if (this.dialog.open) this.dialog.close();
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.(value);
  }
}
