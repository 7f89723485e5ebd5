// One order hit (a result of /api/flow) as table rows: its figures, then its insight sentence.
// Each hit is its own <tbody>, so a hit is shown, hidden, inserted or removed as one piece.

import {
  count,
  el,
  money,
  monthDay,
  newYorkDay,
  newYorkFull,
  newYorkTime,
  percent,
  shortMoney,
  strike,
  tickerLink,
} from "./common.js";

const MOOD = { BULLISH: "bull", BEARISH: "bear", NEUTRAL: "neutral" };
const AGGRESSOR = {
  BUY: "bought",
  SELL: "sold",
  NEUTRAL: "at mid",
  MIXED: "mixed",
  NONE: "crossed",
  UNKNOWN: "side ?",
};

// options: tickerUrl (a link template: the ticker column), outcome (the "stock after" column),
// today (a New York day: other days show their date under the time).
export function hitBody(hit, options) {
  const cells = [
    timeCell(hit, options.today),
    options.tickerUrl ? tickerCell(hit, options.tickerUrl) : null,
    contractCell(hit),
    typeCell(hit),
    sideCell(hit),
    el("td", { class: "num", "data-label": "size" }, count(hit.size)),
    el("td", { class: "num premium", title: money(hit.premium) }, shortMoney(hit.premium)),
    el("td", { class: "num", "data-label": "DTE" }, String(hit.dte)),
    openingCell(hit),
    options.outcome ? outcomeCell(hit) : null,
  ].filter(Boolean);
  const insight = el(
    "tr",
    { class: "insight" },
    el("td", { colspan: String(cells.length) }, el("div", {}, hit.insight || "No insight sentence for this hit."))
  );
  const body = el("tbody", { class: "hit" }, el("tr", { class: "figures" }, cells), insight);
  body.dataset.orderId = hit.order_id;
  body.dataset.sentiment = hit.sentiment;
  return body;
}

function timeCell(hit, today) {
  const day = newYorkDay(hit.timestamp);
  return el(
    "td",
    { class: "time", title: newYorkFull(hit.timestamp) },
    newYorkTime(hit.timestamp),
    day === today ? null : el("span", { class: "day" }, monthDay(day))
  );
}

function tickerCell(hit, template) {
  return el("td", { class: "ticker" }, el("a", { href: tickerLink(template, hit.ticker) }, hit.ticker));
}

function contractCell(hit) {
  const year = Number(newYorkDay(hit.timestamp).slice(0, 4));
  return el(
    "td",
    { class: "contract", title: hit.symbol },
    `$${strike(hit.strike)} ${hit.side === "CALL" ? "C" : "P"} `,
    el("span", { class: "muted" }, monthDay(hit.expiry, year))
  );
}

function typeCell(hit) {
  const title = `${hit.prints} print${hit.prints === 1 ? "" : "s"} on ${hit.exchanges.length} exchange${
    hit.exchanges.length === 1 ? "" : "s"
  } over ${count(hit.span_ms)} ms${hit.iso ? ", ISO" : ""}`;
  return el(
    "td",
    { class: "type", title },
    hit.golden ? el("span", { class: "golden", title: "golden: $1M or more bought at or above the ask" }, "★ ") : null,
    hit.order_type,
    hit.subtype ? el("span", { class: "muted" }, ` ${hit.subtype}`) : null
  );
}

function sideCell(hit) {
  const mood = MOOD[hit.sentiment] || "neutral";
  return el(
    "td",
    { class: "side" },
    el("span", { class: `sentiment ${mood}` }, hit.sentiment.charAt(0) + hit.sentiment.slice(1).toLowerCase()),
    el("span", { class: "muted" }, ` ${AGGRESSOR[hit.aggressor] || hit.aggressor.toLowerCase()}`)
  );
}

function openingCell(hit) {
  const ratio = hit.vol_oi === null ? "" : ` (volume/OI ${hit.vol_oi})`;
  const [text, title] =
    hit.opening === null
      ? ["?", "open interest or the day's volume unknown"]
      : hit.opening
        ? [hit.opening_strict ? "yes, strict" : "yes", `size above open interest${ratio}`]
        : ["no", `size within open interest${ratio}`];
  return el("td", { class: hit.opening ? "opening" : "muted", title, "data-label": "opening" }, text);
}

function outcomeCell(hit) {
  if (!hit.outcome) {
    return el("td", { class: "muted outcome", title: "no direction, or not measured yet", "data-label": "after" }, "—");
  }
  const horizons = hit.outcome.horizons.map((horizon) => {
    if (horizon.move === null) return el("span", { class: "muted" }, `${horizon.days}d pending`);
    const way = horizon.signed > 0 ? "right" : horizon.signed < 0 ? "wrong" : "flat";
    const versus = horizon.versus_market === null ? "" : `, ${percent(horizon.versus_market)} versus SPY`;
    return el(
      "span",
      { class: way, title: `${horizon.days} trading days after: ${percent(horizon.move)}${versus}` },
      `${horizon.days}d ${percent(horizon.move)}`
    );
  });
  const spaced = horizons.flatMap((horizon, index) => (index ? [" ", horizon] : [horizon]));
  return el("td", { class: "outcome", "data-label": "after" }, spaced);
}

// Whether a hit passes the board's filters (URLSearchParams named as /api/flow's parameters).
export function passes(hit, filters) {
  const tickers = (filters.get("ticker") || "")
    .toUpperCase()
    .split(",")
    .map((each) => each.trim())
    .filter(Boolean);
  const number = (name) => (filters.get(name) ? Number(filters.get(name)) : null);
  const [minPremium, dteMin, dteMax] = [number("min_premium"), number("dte_min"), number("dte_max")];
  return (
    (tickers.length === 0 || tickers.includes(hit.ticker)) &&
    (!filters.get("type") || hit.order_type === filters.get("type")) &&
    (!filters.get("sentiment") || hit.sentiment === filters.get("sentiment")) &&
    (minPremium === null || hit.premium >= minPremium) &&
    (dteMin === null || hit.dte >= dteMin) &&
    (dteMax === null || hit.dte <= dteMax)
  );
}
