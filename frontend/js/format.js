// Display formatting only: the wire carries numbers for display (docs/protocol.md).

const DASH = "—";

export function isNum(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** 1234567 -> "1.23M"; keeps the sign; below 1000 shows up to `digits` decimals. */
export function compact(value, digits = 2) {
  if (!isNum(value)) return DASH;
  const abs = Math.abs(value);
  const units = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, suffix] of units) {
    if (abs >= size) return `${trim((value / size).toFixed(digits))}${suffix}`;
  }
  return trim(value.toFixed(digits));
}

/** "$1.23M" for large values, "$12.34" for small ones. */
export function usdCompact(value, digits = 2) {
  if (!isNum(value)) return DASH;
  const sign = value < 0 ? "-" : "";
  return `${sign}$${compact(Math.abs(value), digits)}`;
}

/** Exact-ish USD with thousands separators: "$1,234.56". */
export function usd(value, digits = 2) {
  if (!isNum(value)) return DASH;
  const sign = value < 0 ? "-" : "";
  return `${sign}$${Math.abs(value).toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })}`;
}

/** Signed USD, for PnL: "+$12.30" / "-$4.00". */
export function signedUsd(value, digits = 2) {
  if (!isNum(value)) return DASH;
  return `${value > 0 ? "+" : ""}${usd(value, digits)}`;
}

/** A price: more decimals for small prices. */
export function price(value) {
  if (!isNum(value)) return DASH;
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 3 : abs >= 0.01 ? 5 : 8;
  return `$${value.toLocaleString("en-US", {
    minimumFractionDigits: Math.min(digits, 2),
    maximumFractionDigits: digits,
  })}`;
}

/** A value already in percent: 8.4797 -> "8.48%". */
export function pct(value, digits = 2) {
  if (!isNum(value)) return DASH;
  return `${value.toFixed(digits)}%`;
}

export function signedPct(value, digits = 2) {
  if (!isNum(value)) return DASH;
  return `${value > 0 ? "+" : ""}${value.toFixed(digits)}%`;
}

/** A fraction as percent (funding rates): 0.0000968 -> "0.0010%". */
export function ratePct(fraction, digits = 4) {
  if (!isNum(fraction)) return DASH;
  const value = fraction * 100;
  return `${value > 0 ? "+" : ""}${value.toFixed(digits)}%`;
}

/** A base-asset amount: "1.5", "0.0170". */
export function amount(value, digits = 4) {
  if (!isNum(value)) return DASH;
  return trim(value.toFixed(digits));
}

export function signedAmount(value, digits = 4) {
  if (!isNum(value)) return DASH;
  return `${value > 0 ? "+" : ""}${amount(value, digits)}`;
}

/** "42 s", "5 min", "3 h", "2 d". */
export function age(seconds) {
  if (!isNum(seconds) || seconds < 0) return DASH;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** "2026-01-15 12:00 UTC" from an ISO string. */
export function utc(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return DASH;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "positive" / "negative" / "zero": the CSS class of a signed number. */
export function signClass(value) {
  if (!isNum(value) || value === 0) return "zero";
  return value > 0 ? "positive" : "negative";
}

function trim(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}
