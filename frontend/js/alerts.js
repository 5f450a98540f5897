// The health banner (HEALTH_ALERT) and toasts (every COMMAND_RESULT, connection news).

import { $, el } from "./dom.js";

const BANNER_AUTO_DISMISS_MS = 10000;
const TOAST_MS = { success: 5000, info: 5000, error: 9000, warning: 8000 };
const MAX_TOASTS = 5;

export class HealthBanner {
  constructor() {
    this.node = $("#health-banner");
    this.timer = null;
    $(".health-banner-close", this.node).addEventListener("click", () => this.dismiss());
  }

  /** {level: "WARNING"|"CRITICAL", health, message} */
  show(alert) {
    const level = alert.level === "CRITICAL" ? "CRITICAL" : "WARNING";
    this.node.dataset.level = level.toLowerCase();
    $(".health-banner-level", this.node).textContent = level === "CRITICAL" ? "Critical health" : "Low health";
    const health = Number.isFinite(alert.health) ? `${alert.health.toFixed(1)}%` : "";
    $(".health-banner-text", this.node).textContent = `${health ? `${health} · ` : ""}${alert.message || ""}`;
    this.node.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dismiss(), BANNER_AUTO_DISMISS_MS);
  }

  dismiss() {
    clearTimeout(this.timer);
    this.node.hidden = true;
  }
}

export class Toasts {
  constructor() {
    this.root = $("#toasts");
  }

  /** kind: success | error | warning | info; code shown for errors. */
  show({ kind = "info", title, message = "", code = "" }) {
    while (this.root.children.length >= MAX_TOASTS) this.root.firstElementChild.remove();
    const toast = el(
      "div",
      { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": `toast-${kind}` },
      el("div", { class: "toast-body" },
        el("div", { class: "toast-title" }, title, code ? el("code", { class: "toast-code", "data-testid": "toast-code" }, code) : null),
        message ? el("div", { class: "toast-message", "data-testid": "toast-message" }, message) : null),
      el("button", { class: "toast-close", type: "button", "aria-label": "Dismiss", onclick: () => toast.remove() }, "×"),
    );
    this.root.append(toast);
    this.raise();
    setTimeout(() => {
      toast.remove();
      if (!this.root.children.length && this.root.matches(":popover-open")) this.root.hidePopover();
    }, TOAST_MS[kind] || 5000);
    return toast;
  }

  /** Toasts live in the top layer (a manual popover), re-shown so they sit above any modal. */
  raise() {
    if (typeof this.root.showPopover !== "function") return;
    if (this.root.matches(":popover-open")) this.root.hidePopover();
    this.root.showPopover();
  }
}
