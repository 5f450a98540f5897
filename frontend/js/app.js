// Wiring: config, markets refresh, the WebSocket, and the command flows.

import { AccountView } from "./account.js";
import { HealthBanner, Toasts } from "./alerts.js";
import { Api } from "./api.js";
import { BacktestView } from "./backtest.js";
import { FundingChart } from "./chart.js";
import { $, $$, busy } from "./dom.js";
import * as fmt from "./format.js";
import { MarketsView } from "./markets.js";
import { AmountModal, ConfirmModal, LeaveModal, TakeModal } from "./modals.js";
import { PositionsView } from "./positions.js";
import { Socket } from "./socket.js";
import { takeTokenFromUrl } from "./token.js";

const MARKETS_REFRESH_MS = 30000;
const FRESHNESS_TICK_MS = 5000;
// Every CONFIRMATION_* refusal carries a fresh quote (the price moved, the quote expired, the
// position changed since it was quoted): the user is asked again, at most this many times.
const MAX_QUOTES = 3;

const ACTION_LABELS = {
  START_ENGINE: "Start engine",
  STOP_ENGINE: "Stop engine",
  DRIFT_DEPOSIT: "Deposit",
  DRIFT_WITHDRAW: "Withdraw",
  DRIFT_OPEN_POSITION: "Open position",
  DRIFT_CLOSE_POSITION: "Close position",
  DRIFT_SETTLE_PNL: "Settle PnL",
  DRIFT_SWAP: "Swap",
  PING: "Ping",
};

class DashboardApp {
  constructor() {
    this.token = takeTokenFromUrl();
    this.api = new Api(this.token);
    this.config = { mode_label: "", venue: "", quote_symbol: "USDC", confirm_above_usd: 100, confirm_timeout_sec: 30, hedge_market: "" };
    this.engine = { running: false, mode: "" };
    this.account = null; // the last FUNDING_UPDATE payload
    this.marketsTimer = null;

    this.toasts = new Toasts();
    this.banner = new HealthBanner();
    this.accountView = new AccountView();
    this.chart = new FundingChart(this.api);
    this.backtest = new BacktestView(this.token);
    this.markets = new MarketsView({
      onTake: (market) => this.take(market),
      onSelect: (market) => this.chart.load(market.symbol),
    });
    this.positions = new PositionsView({
      onLeave: (position) => this.leave(position),
      onSettle: (position) => this.settle(position),
    });
    this.takeModal = new TakeModal();
    this.confirmModal = new ConfirmModal();
    this.leaveModal = new LeaveModal();
    this.amountModal = new AmountModal();
    this.socket = null;
    this.gatewayAway = false; // the WebSocket dropped and is reconnecting
    this.engineAway = false;  // the gateway said it cannot reach the engine
  }

  start() {
    this.bindControls();
    this.loadConfig();
    this.markets.showLoading();
    this.refreshMarkets();
    setInterval(() => this.markets.renderFreshness(), FRESHNESS_TICK_MS);
    if (!this.token) {
      this.setConnection({ state: "no-token" });
      this.notice("No API token: the dashboard is read-only. Open it with the URL the gateway printed (…/?token=…).");
      return;
    }
    this.loadStatus();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.socket = new Socket(`${scheme}://${location.host}/ws`, this.token, {
      onMessage: (message, info) => this.handlePacket(message, info),
      onState: (state) => this.setConnection(state),
    });
    this.socket.connect();
  }

  bindControls() {
    $("#engine-start").addEventListener("click", (event) => this.startEngine(event.currentTarget));
    $("#engine-stop").addEventListener("click", (event) => this.stopEngine(event.currentTarget));
    $("#markets-refresh").addEventListener("click", () => this.refreshMarkets());
    $("#conn-retry").addEventListener("click", () => this.socket?.retryNow());
    for (const button of $$("[data-quick]")) {
      button.addEventListener("click", () => this.quickAction(button.dataset.quick, button));
    }
    for (const button of $$("[data-hours]")) {
      button.addEventListener("click", () => {
        for (const other of $$("[data-hours]")) other.classList.toggle("is-active", other === button);
        this.chart.setHours(Number(button.dataset.hours));
      });
    }
  }

  // --- REST --------------------------------------------------------------------------------

  async loadConfig() {
    try {
      this.config = { ...this.config, ...(await this.api.config()) };
    } catch (error) {
      this.toasts.show({ kind: "warning", title: "Configuration unavailable", message: error.message, code: error.code });
    }
    this.markets.setHedgeMarket(this.hedgeMarket());
    this.accountView.setQuote(this.config.quote_symbol);
    this.amountModal.setVenue(this.config.quote_symbol || "USDC", this.config.venue || "Drift");
    const badge = $("#mode-badge");
    const label = this.config.mode_label || "UNKNOWN";
    // Live mode names the venue it trades (paper simulates on recorded Drift data).
    badge.textContent = label.startsWith("LIVE") && this.config.venue ? `${label} · ${this.config.venue}` : label;
    badge.dataset.mode = label.startsWith("LIVE") ? (label === "LIVE" ? "live" : "simulated") : "paper";
    for (const node of $$(".confirm-threshold")) node.textContent = String(this.config.confirm_above_usd);
  }

  async loadStatus() {
    try {
      const status = await this.api.status();
      if (status.engine) this.onEngineStatus(status.engine);
      if (status.snapshot) this.onFundingUpdate(status.snapshot);
    } catch (error) {
      if (error.status === 401) this.notice(`The API token was refused (${error.code}): open the URL the gateway printed.`);
    }
  }

  async refreshMarkets() {
    clearTimeout(this.marketsTimer);
    let nextMs = MARKETS_REFRESH_MS;
    try {
      this.markets.render(await this.api.markets());
    } catch (error) {
      this.markets.showError(error);
      if (error.retryAfter) nextMs = Math.max(nextMs, error.retryAfter * 1000);
    }
    this.marketsTimer = setTimeout(() => this.refreshMarkets(), nextMs);
  }

  // --- WebSocket ---------------------------------------------------------------------------

  setConnection(info) {
    this.gatewayAway = info.state === "reconnecting";
    this.renderOutage();
    const node = $("#conn-status");
    const text = $(".conn-text", node);
    node.dataset.state = info.state;
    $("#conn-retry").hidden = info.state !== "reconnecting";
    clearInterval(this.reconnectTicker);
    if (info.state === "open") text.textContent = "Live";
    else if (info.state === "connecting") text.textContent = "Connecting…";
    else if (info.state === "unauthorized") {
      text.textContent = "Unauthorized";
      this.notice("The gateway refused the API token. Open the dashboard with the URL the gateway printed (…/?token=…).");
    } else if (info.state === "no-token") text.textContent = "Read-only";
    else if (info.state === "reconnecting") {
      const render = () => {
        const left = info.until ? Math.max(0, Math.ceil((info.until - Date.now()) / 1000)) : 0;
        text.textContent = left > 0 ? `Reconnecting in ${left} s` : "Reconnecting…";
      };
      render();
      if (info.until) this.reconnectTicker = setInterval(render, 500);
    }
  }

  handlePacket(message, { matched } = {}) {
    const payload = message.payload || {};
    switch (message.type) {
      case "FUNDING_UPDATE":
        this.onFundingUpdate(payload);
        break;
      case "ENGINE_STATUS":
        this.onEngineStatus(payload);
        break;
      case "HEALTH_ALERT":
        this.banner.show(payload);
        break;
      case "COMMAND_RESULT":
        if (!matched) this.toastResult(payload);
        break;
      case "VAULT_SYNC_ERROR":
        this.toasts.show({
          kind: "error",
          title: `Vault sync failed after ${payload.attempts ?? "?"} attempts: trading disabled`,
          message: payload.error?.message || "",
          code: payload.error?.code || "VAULT_SYNC_ERROR",
        });
        break;
      case "REBALANCE":
        this.toasts.show({
          kind: payload.ok ? "info" : "warning",
          title: `Rebalance ${payload.action || ""}${payload.ok ? "" : " failed"}`,
          message: `correction ${payload.correction_size ?? "—"} SOL · drift ${fmt.signedPct(payload.drift_pct)}${payload.error?.message ? ` · ${payload.error.message}` : ""}`,
          code: payload.error?.code || "",
        });
        break;
      case "ERROR":
        if (payload.code === "ENGINE_UNAVAILABLE") {
          this.onEngineUnreachable();
          break;
        }
        this.toasts.show({ kind: "error", title: "Gateway error", message: payload.message || "", code: payload.code || "" });
        break;
      default:
        break;
    }
  }

  onFundingUpdate(update) {
    this.account = update;
    this.accountView.render(update);
    this.positions.render(update.positions || []);
  }

  /** The engine's own setting when it has said it, else the gateway's configuration. */
  hedgeMarket() {
    return this.engine.hedge_market || this.config.hedge_market || null;
  }

  /** The gateway cannot reach the engine (at connect time, or it lost the engine's stream):
   * the next ENGINE_STATUS says the engine is back. */
  onEngineUnreachable() {
    this.engineAway = true;
    const node = $("#engine-status");
    node.textContent = "Engine unreachable · reconnecting…";
    node.dataset.running = "unreachable";
    this.renderOutage();
  }

  /** One banner while the page is cut off from live data, saying which link is down. */
  renderOutage() {
    const node = $("#conn-banner");
    if (this.gatewayAway) {
      $(".conn-banner-title", node).textContent = "Reconnecting to the gateway…";
      $(".conn-banner-text", node).textContent = "The connection dropped. Figures on this page may be out of date; commands sent now wait for it.";
      node.dataset.link = "gateway";
    } else if (this.engineAway) {
      $(".conn-banner-title", node).textContent = "Engine unreachable: reconnecting…";
      $(".conn-banner-text", node).textContent = "The gateway lost the engine and is reconnecting. Figures may be out of date; commands fail until it is back.";
      node.dataset.link = "engine";
    }
    node.hidden = !(this.gatewayAway || this.engineAway);
  }

  onEngineStatus(status) {
    this.engine = status;
    this.engineAway = false;
    this.renderOutage();
    this.markets.setHedgeMarket(this.hedgeMarket());
    const node = $("#engine-status");
    const mode = status.mode ? ` (${status.mode})` : "";
    node.textContent = status.running ? `Engine running${mode}` : "Engine stopped";
    node.dataset.running = status.running ? "true" : "false";
    if (!this.commandBusy) {
      $("#engine-start").disabled = Boolean(status.running);
      $("#engine-stop").disabled = !status.running;
    }
    if (status.max_leverage) this.accountView.setMaxLeverage(status.max_leverage);
    if (status.running && status.trading_enabled === false) {
      this.notice(`Trading is blocked: ${status.blocked_reason || "no reason given"}`);
    } else {
      this.notice("");
    }
  }

  // --- command flows -----------------------------------------------------------------------

  /**
   * Sends a command. A trade over the threshold is answered with the engine's quote: the user
   * sees it, and only a confirmation in time sends the same trade back with the quote's
   * confirmation_id (the engine checks the id, the trade, the expiry and the price).
   */
  async runCommand(action, payload, { confirmTitle = "Confirm trade" } = {}) {
    if (!this.socket) {
      const result = { ok: false, action, error: { code: "NO_TOKEN", message: "No API token: commands are disabled." } };
      this.toastResult(result);
      return result;
    }
    let result = await this.socket.command(action, payload);
    for (let asked = 0; asked < MAX_QUOTES && "confirmation_id" in payload && isQuote(result); asked += 1) {
      this.takeModal.close();
      const quote = result.confirmation;
      const answer = await this.confirmModal.ask(result.error.details || {}, {
        title: confirmTitle,
        timeoutSec: (quote.valid_for_ms || 1000 * (Number(this.config.confirm_timeout_sec) || 30)) / 1000,
        note: asked > 0 ? result.error.message : "",
      });
      if (!answer.confirmed) {
        this.toasts.show({
          kind: "warning",
          title: answer.reason === "timeout" ? "Confirmation timed out: trade cancelled" : "Trade cancelled",
          message: "Nothing was sent to the venue.",
        });
        return { ok: false, cancelled: true, action };
      }
      result = await this.socket.command(action, { ...payload, confirmation_id: quote.confirmation_id });
    }
    this.toastResult(result);
    return result;
  }

  toastResult(result) {
    const label = ACTION_LABELS[result.action] || result.action || "Command";
    if (result.action === "PING" && result.ok) return;
    if (result.ok) {
      this.toasts.show({ kind: "success", title: `${label}: done`, message: describeOrder(result.order) || result.message || "" });
    } else {
      const error = result.error || {};
      this.toasts.show({ kind: "error", title: `${label} refused`, code: error.code || "ERROR", message: error.message || result.message || "" });
    }
  }

  take(market) {
    this.takeModal.open(market, this.account, async (order) => {
      this.takeModal.setBusy(true);
      const result = await this.runCommand("DRIFT_OPEN_POSITION", { ...order, confirmation_id: "" }, { confirmTitle: "Confirm open position" });
      this.takeModal.setBusy(false);
      if (result.ok || result.cancelled) this.takeModal.close();
      else this.takeModal.showError(`${result.error?.code}: ${result.error?.message}`);
    }, { hedgeMarket: this.hedgeMarket() });
  }

  async leave(position) {
    const snapshot = this.account || {};
    const answer = await this.leaveModal.ask(position, {
      hedgeMarket: this.hedgeMarket(), spotSol: snapshot.spot_sol,
    });
    if (!answer) return;
    this.positions.setBusy(position.market, "Closing…");
    try {
      await this.runCommand("DRIFT_CLOSE_POSITION", { market: position.market, confirmation_id: "", unwind_spot: answer.unwindSpot }, { confirmTitle: "Confirm close position" });
    } finally {
      this.positions.setBusy(position.market, null);
    }
  }

  async settle(position) {
    this.positions.setBusy(position.market, "Settling…");
    try {
      await this.runCommand("DRIFT_SETTLE_PNL", { market: position.market });
    } finally {
      this.positions.setBusy(position.market, null);
    }
  }

  async quickAction(action, button) {
    const payload = await this.amountModal.ask(action);
    if (!payload) return;
    const restore = busy(button);
    try {
      await this.runCommand(action, payload, { confirmTitle: action === "DRIFT_SWAP" ? "Confirm SOL purchase" : "Confirm" });
    } finally {
      restore();
    }
  }

  async startEngine(button) {
    const mode = (this.config.mode_label || "PAPER").startsWith("LIVE") ? "live" : "paper";
    await this.engineCommand(button, "START_ENGINE", { mode });
  }

  async stopEngine(button) {
    await this.engineCommand(button, "STOP_ENGINE", {});
  }

  async engineCommand(button, action, payload) {
    this.commandBusy = true;
    const restore = busy(button);
    try {
      await this.runCommand(action, payload);
    } finally {
      restore();
      this.commandBusy = false;
      this.onEngineStatus(this.engine);
    }
  }

  notice(text) {
    const node = $("#notice");
    node.textContent = text;
    node.hidden = !text;
  }
}

/** "SHORT 2.983 SOL-PERP @ $84.931 · fee $0.2534 · tx paper:b745a3…" */
function describeOrder(order) {
  if (!order) return "";
  const parts = [];
  if (order.filled_size) {
    parts.push(`${String(order.side || "").toUpperCase()} ${fmt.amount(order.filled_size, 6)} ${order.market || ""} @ ${fmt.price(order.fill_price)}`);
    if (order.fee) parts.push(`fee ${fmt.usd(order.fee, 4)}`);
  } else if (order.market) {
    parts.push(`${order.market} ${String(order.status || "").toLowerCase()}`);
  }
  if (order.tx_signature) parts.push(`tx ${order.tx_signature.slice(0, 14)}…`);
  // A command re-sent after a reconnection: the engine answered its first outcome.
  if (order.replayed) parts.push("sent again after a reconnection: traded once");
  return parts.join(" · ");
}

const app = new DashboardApp();
window.dneApp = app; // for debugging from the console
app.start();

/** A refusal that brings the engine's quote of the trade to confirm. */
function isQuote(result) {
  return !result.ok && Boolean(result.confirmation?.confirmation_id);
}
