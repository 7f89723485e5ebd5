// What the board's pages share: reading the API, building elements, and writing numbers and
// times as the rest of flowsite does (money as the insight sentences write it, New York time).

export const NEW_YORK = "America/New_York";

export async function getJSON(url) {
  // Same origin: the session cookie goes with it, and the API accepts a signed-in user.
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

export function withQuery(url, params) {
  const query = new URLSearchParams(params).toString();
  return query ? `${url}?${query}` : url;
}

// el("td", {class: "num", title: "…"}, "text", child): children are text or nodes, never HTML.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export function tickerLink(template, ticker) {
  return template.replace("TICKER", encodeURIComponent(ticker));
}

export function showStatus(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// $850, $8.5K, $850K, $1.2M, $12M (trades/domain/insights.py short_money).
export function shortMoney(dollars) {
  const value = Math.abs(dollars);
  const sign = dollars < 0 ? "-" : "";
  for (const [limit, suffix] of [
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ]) {
    if (value >= limit) {
      const scaled = value / limit;
      const digits = scaled < 10 ? scaled.toFixed(1).replace(/\.0$/, "") : scaled.toFixed(0);
      return `${sign}$${digits}${suffix}`;
    }
  }
  return `${sign}$${value.toFixed(0)}`;
}

export function signedMoney(dollars) {
  return dollars > 0 ? `+${shortMoney(dollars)}` : shortMoney(dollars);
}

export function money(dollars) {
  return `${dollars < 0 ? "-" : ""}$${Math.abs(dollars).toLocaleString("en-US", { maximumFractionDigits: 0 })}`;
}

export function count(value) {
  return value.toLocaleString("en-US");
}

export function strike(value) {
  return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

// +3.0%, -1.2% (a move is a fraction: 0.03 is +3%).
export function percent(move) {
  const tenths = Math.round(move * 1000) / 10;
  return tenths === 0 ? "0.0%" : `${tenths > 0 ? "+" : ""}${tenths.toFixed(1)}%`;
}

const clock = new Intl.DateTimeFormat("en-US", {
  timeZone: NEW_YORK,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const isoDay = new Intl.DateTimeFormat("en-CA", {
  timeZone: NEW_YORK,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});
const full = new Intl.DateTimeFormat("en-US", {
  timeZone: NEW_YORK,
  dateStyle: "medium",
  timeStyle: "long",
});
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function newYorkTime(timestamp) {
  return clock.format(new Date(timestamp));
}

// The New York date of a moment, as the API's day parameter: 2026-12-02.
export function newYorkDay(timestamp) {
  return isoDay.format(new Date(timestamp));
}

export function newYorkFull(timestamp) {
  return full.format(new Date(timestamp));
}

// "2026-12-18" -> "Dec 18" (and the year when it is not ``year``).
export function monthDay(day, year = null) {
  const [y, m, d] = day.split("-").map(Number);
  const text = `${MONTHS[m - 1]} ${d}`;
  return year !== null && y !== year ? `${text} ’${String(y).slice(2)}` : text;
}
