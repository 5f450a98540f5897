// Market opportunities: stats, the top-3 cards and the funding table, from GET /api/drift/markets.

import { $, el } from "./dom.js";
import * as fmt from "./format.js";

const DIRECTION_SIDE = { shorts: "short", longs: "long" };

/** The side that receives funding: "shorts" -> "short". */
export function receivingSide(market) {
  return DIRECTION_SIDE[market.direction] || (market.rate_1h >= 0 ? "short" : "long");
}

/**
 * Why "Take" cannot open the receiving side here, or "" when it can. The engine holds the hedge
 * market short against spot SOL and rebalances it, so it refuses a user long there
 * (HEDGE_MARKET_LONG); the dashboard says so before anything is sent.
 */
export function hedgeLongRefusal(market, side, hedgeMarket) {
  if (!hedgeMarket || market.symbol !== hedgeMarket || side !== "long") return "";
  return `${hedgeMarket} is the hedge market: the engine holds it short against spot SOL and rebalances it, so it takes no long. Go long on another market.`;
}

export function sortByApr(markets) {
  return [...markets].sort((a, b) => (b.apr ?? -Infinity) - (a.apr ?? -Infinity) || a.symbol.localeCompare(b.symbol));
}

/** Best carry, whichever side receives it: the largest |APR| among tradable markets. */
export function topOpportunities(markets, count = 3) {
  return markets
    .filter((m) => m.tradable && fmt.isNum(m.apr))
    .sort((a, b) => Math.abs(b.apr) - Math.abs(a.apr))
    .slice(0, count);
}

export class MarketsView {
  constructor({ onTake, onSelect }) {
    this.onTake = onTake;
    this.onSelect = onSelect;
    this.body = $("#markets-body");
    this.cards = $("#opportunity-cards");
    this.errorBox = $("#markets-error");
    this.empty = $("#markets-empty");
    this.freshness = $("#markets-freshness");
    this.sourceLine = $("#source-line");
    this.selected = null;
    this.data = null;
    this.receivedAt = 0;
    this.hedgeMarket = null; // from the engine's status (or GET /api/config until it answers)
    this.userSelected = false;
  }

  /** The hedge market is charted first and takes no long: re-render when it becomes known. */
  setHedgeMarket(symbol) {
    if (!symbol || symbol === this.hedgeMarket) return;
    this.hedgeMarket = symbol;
    if (!this.data) return;
    const markets = sortByApr(this.data.markets || []);
    this.renderCards(topOpportunities(markets));
    this.renderTable(markets);
    const hedge = this.bySymbol(symbol);
    if (!this.userSelected && hedge && this.selected !== symbol) this.select(hedge);
  }

  showLoading() {
    this.body.replaceChildren(
      ...Array.from({ length: 6 }, () =>
        el("tr", { class: "skeleton-row" }, ...Array.from({ length: 10 }, () => el("td", {}, el("span", { class: "skeleton" })))),
      ),
    );
    this.cards.replaceChildren(...Array.from({ length: 3 }, () => el("div", { class: "card card-skeleton" }, el("span", { class: "skeleton w-40" }), el("span", { class: "skeleton w-80 tall" }), el("span", { class: "skeleton w-60" }))));
  }

  /** A failed refresh: keep the last table if there is one, and say how old it is. */
  showError(error) {
    const hasData = this.data !== null;
    const retry = error.retryAfter ? ` Retrying in ${error.retryAfter} s.` : "";
    this.errorBox.hidden = false;
    this.errorBox.replaceChildren(
      el("strong", {}, hasData ? "Refresh failed: " : "Markets unavailable: "),
      `${error.message}${retry}`,
      el("span", { class: "muted" }, ` (${error.code})`),
    );
    if (!hasData) {
      this.body.replaceChildren();
      this.cards.replaceChildren();
      for (const node of document.querySelectorAll("[data-stat]")) node.textContent = "—";
      this.freshness.textContent = "";
    } else {
      this.renderFreshness();
    }
  }

  render(data) {
    this.data = data;
    this.receivedAt = Date.now();
    this.errorBox.hidden = true;
    const markets = sortByApr(data.markets || []);
    this.renderStats(data.stats || {});
    this.renderCards(topOpportunities(markets));
    this.renderTable(markets);
    this.renderSource(data);
    this.renderFreshness();
    if (!this.selected && markets.length) {
      this.select(markets.find((m) => m.symbol === this.hedgeMarket) || markets.find((m) => m.tradable) || markets[0]);
    }
  }


  bySymbol(symbol) {
    return (this.data?.markets || []).find((m) => m.symbol === symbol) || null;
  }

  renderStats(stats) {
    const values = {
      total_oi: fmt.usdCompact(stats.total_oi),
      volume_24h: fmt.usdCompact(stats.volume_24h),
      avg_funding: fmt.ratePct(stats.avg_funding),
      avg_apr: fmt.signedPct(stats.avg_apr),
    };
    for (const [key, text] of Object.entries(values)) {
      const node = document.querySelector(`[data-stat="${key}"]`);
      node.textContent = text;
      if (key === "avg_funding" || key === "avg_apr") {
        node.className = `stat-value ${fmt.signClass(stats[key])}`;
      }
    }
  }

  renderCards(top) {
    if (!top.length) {
      this.cards.replaceChildren(el("p", { class: "empty" }, "No tradable market right now."));
      return;
    }
    this.cards.replaceChildren(
      ...top.map((market, index) => {
        const side = receivingSide(market);
        return el(
          "article",
          { class: "card", dataset: { market: market.symbol }, "data-testid": "opportunity-card" },
          el("div", { class: "card-head" }, el("span", { class: "card-rank" }, `#${index + 1}`), el("span", { class: "card-symbol" }, market.symbol)),
          el("div", { class: `card-apr ${fmt.signClass(Math.abs(market.apr))}` }, fmt.pct(Math.abs(market.apr)), el("span", { class: "muted small" }, " APR")),
          el("div", { class: "card-meta" },
            el("span", { class: `pill pill-${side}` }, `${side === "short" ? "Short" : "Long"} receives`),
            el("span", { class: "muted" }, `OI ${fmt.usdCompact(market.open_interest)}`)),
          this.takeButton(market, {
            class: "btn btn-primary btn-sm btn-block", testid: "card-take", label: "Take position",
          }),
        );
      }),
    );
  }

  renderTable(markets) {
    this.empty.hidden = markets.length > 0;
    this.body.replaceChildren(
      ...markets.map((market) => {
        const side = receivingSide(market);
        const paused = market.status === "funding_paused";
        const statusText = market.tradable ? "Active" : statusLabel(market);
        const row = el(
          "tr",
          {
            dataset: { market: market.symbol },
            "data-testid": "market-row",
            class: [market.symbol === this.selected ? "is-selected" : "", market.tradable ? "" : "is-untradable"].join(" ").trim() || null,
            onclick: (event) => {
              if (event.target.closest("button")) return;
              this.select(market, { byUser: true });
            },
          },
          el("td", { class: "sym" }, market.symbol),
          el("td", { class: `num ${fmt.signClass(market.rate_1h)}`, "data-testid": "rate-1h" }, fmt.ratePct(market.rate_1h)),
          el("td", { class: `num col-8h ${fmt.signClass(market.rate_8h)}` }, fmt.ratePct(market.rate_8h)),
          el("td", { class: `num strong ${fmt.signClass(market.apr)}`, "data-testid": "apr" }, fmt.signedPct(market.apr)),
          el("td", {}, el("span", { class: `pill pill-${side}` }, market.direction === "longs" ? "Longs" : "Shorts")),
          el("td", { class: "num" }, fmt.usdCompact(market.open_interest)),
          el("td", { class: "num" }, fmt.usdCompact(market.volume_24h)),
          el("td", { class: "num" }, fmt.price(market.oracle_price)),
          el("td", {}, el("span", {
            class: `status ${market.tradable ? "status-ok" : paused ? "status-paused" : "status-off"}`,
            title: market.not_tradable_reason || "",
            "data-testid": "market-status",
          }, statusText)),
          el("td", { class: "actions-col" }, market.tradable
            ? this.takeButton(market, { class: "btn btn-xs btn-take", testid: "take-button", label: "Take" })
            : el("span", { class: "muted small", title: market.not_tradable_reason || "" }, "—")),
        );
        return row;
      }),
    );
  }

  /** "Take" opens the receiving side; disabled, with the reason shown, where it would be refused. */
  takeButton(market, { class: className, testid, label }) {
    const refusal = hedgeLongRefusal(market, receivingSide(market), this.hedgeMarket);
    const button = el("button", {
      class: className,
      type: "button",
      "data-testid": testid,
      "data-market": market.symbol,
      disabled: refusal ? true : null,
      title: refusal || null,
      "aria-describedby": refusal ? `take-refusal-${testid}-${market.symbol}` : null,
      onclick: () => this.onTake(market),
    }, label);
    if (!refusal) return button;
    // A disabled button shows no tooltip on touch screens: the reason is also on the page.
    return el("span", { class: "take-blocked", title: refusal },
      button,
      el("span", { class: "take-blocked-note", id: `take-refusal-${testid}-${market.symbol}`, "data-testid": "take-blocked-reason" },
        "Hedge market: no long"));
  }

  renderSource(data) {
    const source = data.source === "replay"
      ? "Recorded Drift data, replayed"
      : data.source === "drift" ? "Live Drift data" : `Source: ${data.source || "unknown"}`;
    const asOf = data.as_of ? ` · market time ${fmt.utc(data.as_of)}` : "";
    const notes = (data.model_notes || []).filter(Boolean);
    this.sourceLine.replaceChildren(
      el("span", { class: "source-tag", "data-testid": "source-tag" }, source),
      el("span", { class: "muted" }, asOf),
      notes.length
        ? el("details", { class: "model-notes" }, el("summary", {}, `Model notes (${notes.length})`), el("ul", {}, ...notes.map((note) => el("li", {}, note))))
        : null,
    );
  }

  /** Data age = the gateway's age at fetch time plus the time since. */
  renderFreshness() {
    if (!this.data) return;
    const ageSeconds = (this.data.data_age_seconds || 0) + (Date.now() - this.receivedAt) / 1000;
    const stale = this.data.stale || ageSeconds > 300;
    this.freshness.className = `freshness ${stale ? "is-stale" : ""}`;
    this.freshness.textContent = stale ? `stale · ${fmt.age(ageSeconds)} old` : `updated ${fmt.age(ageSeconds)} ago`;
  }

  select(market, { byUser = false } = {}) {
    this.selected = market.symbol;
    this.userSelected ||= byUser;
    for (const row of this.body.querySelectorAll("tr")) {
      row.classList.toggle("is-selected", row.dataset.market === market.symbol);
    }
    this.onSelect(market);
  }
}

function statusLabel(market) {
  const labels = { funding_paused: "Funding paused", reduce_only: "Reduce only", settlement: "Settlement", delisted: "Delisted" };
  return labels[market.status] || market.status || "Not tradable";
}
