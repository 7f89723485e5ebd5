// The flow board: the day's summary, then the order hits newest first. The first page comes from
// /api/flow, new hits from /api/flow/stream (server-sent events; EventSource reconnects by
// itself and resumes from the last event). A filter hides what no longer passes at once, then
// asks the API again with the same parameters, which the address bar keeps for bookmarks.

import {
  el,
  getJSON,
  monthDay,
  newYorkDay,
  showStatus,
  signedMoney,
  shortMoney,
  tickerLink,
  withQuery,
} from "./common.js";
import { hitBody, passes } from "./rows.js";

const board = document.getElementById("board");
const urls = board.dataset;
const form = document.getElementById("filters");
const table = document.getElementById("flow");
const olderButton = document.getElementById("older");
const live = document.getElementById("live");
const FILTERS = ["ticker", "type", "sentiment", "min_premium", "dte_min", "dte_max"];
const PAGE_SIZE = 50;
const REFETCH_DELAY_MS = 300; // typing a ticker asks the API once, not once per key
const SUMMARY_DELAY_MS = 2000;
const today = newYorkDay(Date.now());

const shown = new Map(); // order_id -> {hit, body}
const empty = el("tbody", { class: "empty" }, el("tr", {}, el("td", { colspan: "9" }, "Loading hits…")));
let nextCursor = null;
let stream = null;
let asked = 0; // the latest page asked for: an answer to an earlier question is dropped
let refetchTimer = null;
let summaryTimer = null;

function currentFilters() {
  const filters = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) filters.set(name, name === "ticker" ? value.toUpperCase().replace(/\s+/g, "") : value);
  }
  return filters;
}

function fillForm(filters) {
  for (const name of FILTERS) form.elements[name].value = filters.get(name) || "";
}

function addRow(hit, before = null) {
  const body = hitBody(hit, { tickerUrl: urls.tickerUrl, today });
  table.insertBefore(body, before);
  shown.set(hit.order_id, { hit, body });
  return body;
}

function clearRows() {
  for (const { body } of shown.values()) body.remove();
  shown.clear();
}

function applyFilters() {
  const filters = currentFilters();
  let visible = 0;
  for (const { hit, body } of shown.values()) {
    body.hidden = !passes(hit, filters);
    if (!body.hidden) visible += 1;
  }
  empty.hidden = visible > 0;
  empty.querySelector("td").textContent = filters.size ? "No hits match these filters." : "No hits stored yet.";
}

async function loadPage({ older = false } = {}) {
  const ticket = ++asked;
  const params = currentFilters();
  params.set("limit", PAGE_SIZE);
  if (older) params.set("cursor", nextCursor);
  let page;
  try {
    page = await getJSON(withQuery(urls.flowUrl, params));
  } catch (error) {
    if (ticket === asked) showStatus(`Could not load the hits: ${error.message}`, true);
    return;
  }
  if (ticket !== asked) return;
  if (!older) clearRows();
  for (const hit of page.results) if (!shown.has(hit.order_id)) addRow(hit);
  nextCursor = page.next_cursor;
  olderButton.hidden = nextCursor === null;
  applyFilters();
  showStatus("");
}

// A hit from the stream goes where its time puts it among the rows (the top, as a rule).
function addLive(hit) {
  if (shown.has(hit.order_id) || !passes(hit, currentFilters())) return;
  const time = Date.parse(hit.timestamp);
  const older = [...table.querySelectorAll("tbody.hit")].find(
    (body) => Date.parse(shown.get(body.dataset.orderId).hit.timestamp) < time
  );
  if (!older && nextCursor !== null) return; // older than the rows loaded: "Load older" brings it
  addRow(hit, older || null).classList.add("fresh");
  applyFilters();
  clearTimeout(summaryTimer);
  summaryTimer = setTimeout(loadSummary, SUMMARY_DELAY_MS);
}

function setLive(state, text) {
  live.dataset.state = state;
  live.textContent = text;
}

function listen() {
  if (stream) stream.close();
  const source = new EventSource(withQuery(urls.streamUrl, currentFilters()));
  stream = source;
  setLive("connecting", "connecting…");
  source.addEventListener("open", () => setLive("open", "● live"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) setLive("closed", "stream stopped");
    else setLive("connecting", "reconnecting…");
  });
  source.addEventListener("hit", (event) => addLive(JSON.parse(event.data)));
}

function filtersChanged() {
  history.replaceState(null, "", withQuery(location.pathname, currentFilters()));
  applyFilters();
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(() => {
    loadPage();
    listen();
  }, REFETCH_DELAY_MS);
}

async function loadSummary() {
  let summary;
  try {
    summary = await getJSON(urls.summaryUrl);
  } catch (error) {
    return; // the strip is a nicety: the table says when the API fails
  }
  document.getElementById("summary-day").textContent = summary.day === today ? "Today" : monthDay(summary.day);
  const chips = summary.results.map((row) => {
    const mood = row.net_premium > 0 ? "bull" : row.net_premium < 0 ? "bear" : "neutral";
    const title =
      `calls ${shortMoney(row.call_premium)}, puts ${shortMoney(row.put_premium)}; ` +
      `bullish ${shortMoney(row.bullish_premium)}, bearish ${shortMoney(row.bearish_premium)}; ` +
      `${row.unusual_hits} unusual`;
    return el(
      "a",
      { class: "chip", href: tickerLink(urls.tickerUrl, row.ticker), title },
      el("b", {}, row.ticker),
      el("span", { class: "muted" }, `${row.hits} hit${row.hits === 1 ? "" : "s"}`),
      el("span", { class: mood }, signedMoney(row.net_premium))
    );
  });
  const strip = chips.length ? chips : [el("span", { class: "muted" }, "No hits yet.")];
  document.getElementById("summary").replaceChildren(...strip);
}

table.append(empty);
fillForm(new URLSearchParams(location.search));
form.addEventListener("input", filtersChanged);
form.addEventListener("reset", () => setTimeout(filtersChanged)); // the fields clear after the event
form.addEventListener("submit", (event) => event.preventDefault());
olderButton.addEventListener("click", () => loadPage({ older: true }));
loadSummary();
loadPage();
listen();
