// One underlying on the board: its past alerts (/api/flow?ticker=, with their outcomes), and for
// the day picked (?day=, default the day of its newest alert) the strike heatmap and the premium
// over the day.

import { el, getJSON, newYorkDay, showStatus, withQuery } from "./common.js";
import { drawHeatmap } from "./heatmap.js";
import { drawPremium } from "./premium.js";
import { hitBody } from "./rows.js";

const page = document.getElementById("ticker");
const urls = page.dataset;
const dayInput = document.getElementById("day");
const alerts = document.getElementById("alerts");
const olderButton = document.getElementById("older");
const PAGE_SIZE = 50;
const today = newYorkDay(Date.now());
let nextCursor = null;

async function loadAlerts(cursor = null) {
  const params = { ticker: urls.ticker, limit: PAGE_SIZE };
  if (cursor) params.cursor = cursor;
  const found = await getJSON(withQuery(urls.flowUrl, params));
  for (const hit of found.results) alerts.append(hitBody(hit, { outcome: true, today }));
  if (!cursor && !found.results.length) {
    const none = el("td", { colspan: "9" }, `No alerts of ${urls.ticker} yet.`);
    alerts.append(el("tbody", { class: "empty" }, el("tr", {}, none)));
  }
  nextCursor = found.next_cursor;
  olderButton.hidden = nextCursor === null;
  return found.results;
}

async function showDay(day) {
  const query = day ? { day } : {};
  let heat;
  let premium;
  try {
    [heat, premium] = await Promise.all([
      getJSON(withQuery(urls.concentrationUrl, query)),
      getJSON(withQuery(urls.premiumUrl, query)),
    ]);
  } catch (error) {
    showStatus(`Could not load ${day || "the day"}: ${error.message}`, true);
    return;
  }
  dayInput.value = heat.day;
  drawHeatmap(document.getElementById("heatmap"), document.getElementById("heatmap-note"), heat);
  drawPremium(document.getElementById("premium"), premium);
  showStatus("");
}

async function start() {
  const asked = new URLSearchParams(location.search).get("day");
  let newest = null;
  try {
    const first = await loadAlerts();
    newest = first.length ? newYorkDay(first[0].timestamp) : null;
  } catch (error) {
    showStatus(`Could not load the alerts: ${error.message}`, true);
  }
  await showDay(asked || newest);
}

dayInput.addEventListener("change", () => {
  if (!dayInput.value) return;
  history.replaceState(null, "", withQuery(location.pathname, { day: dayInput.value }));
  showDay(dayInput.value);
});
olderButton.addEventListener("click", () =>
  loadAlerts(nextCursor).catch((error) => showStatus(`Could not load older alerts: ${error.message}`, true))
);
start();
