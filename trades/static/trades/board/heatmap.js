// The strike heatmap of /api/concentration: strikes (rows, highest on top) by expiries (columns),
// calls and puts as two grids with the same rows. A cell's colour is its premium on a log scale
// (a $20K strike and a $5M one both stay readable); an unusual cell is outlined and marked ◆,
// a cell with order hits carries ●; its title has the figures.

import { count, el, money, monthDay, shortMoney, strike } from "./common.js";

// Viridis: dark for little premium, bright for the most; readable by colour-blind eyes.
const STOPS = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export function drawHeatmap(container, note, data) {
  const { cells } = data;
  if (!cells.length) {
    container.replaceChildren(el("p", { class: "muted" }, `No ${data.underlying} trades counted on ${data.day}.`));
    note.textContent = "";
    return;
  }
  const expiries = [...new Set(cells.map((cell) => cell.expiry))].sort();
  const strikes = [...new Set(cells.map((cell) => cell.strike))].sort((a, b) => b - a);
  const scale = logScale(cells.map((cell) => cell.premium));
  const layout = { expiries, strikes, scale, year: Number(data.day.slice(0, 4)), underlying: data.underlying };
  container.replaceChildren(
    grid("Calls", cells.filter((cell) => cell.side === "CALL"), layout),
    grid("Puts", cells.filter((cell) => cell.side === "PUT"), layout),
    legend(scale)
  );
  note.textContent = noteText(data);
}

function noteText(data) {
  const days = data.baseline_days;
  const usual =
    days >= 5
      ? `usual: the mean day of the ${days} trading days of counts since ${monthDay(data.baseline_since)}; ` +
        `unusual at ${data.unusual_multiple}× or more`
      : `only ${days} days of counts before it: too little history to say what is unusual`;
  const day = `${monthDay(data.day)}: ${shortMoney(data.premium)} of option premium`;
  return `${day} on ${count(data.cells.length)} contracts; ${usual}.`;
}

function grid(title, cells, layout) {
  const found = new Map(cells.map((cell) => [`${cell.strike}|${cell.expiry}`, cell]));
  const head = el(
    "tr",
    {},
    el("th", { class: "corner" }, "Strike"),
    layout.expiries.map((expiry) => el("th", { title: expiry }, monthDay(expiry, layout.year)))
  );
  const rows = layout.strikes.map((price) =>
    el(
      "tr",
      {},
      el("th", { class: "strike" }, strike(price)),
      layout.expiries.map((expiry) => cellFor(found.get(`${price}|${expiry}`), layout))
    )
  );
  return el(
    "div",
    { class: "grid-box" },
    el("h3", {}, title),
    el(
      "div",
      { class: "scroll heat-scroll" },
      el("table", { class: "heatmap" }, el("thead", {}, head), el("tbody", {}, rows))
    )
  );
}

function cellFor(cell, layout) {
  if (!cell) return el("td", { class: "cell none" });
  const share = layout.scale(cell.premium);
  const classes = ["cell", cell.unusual ? "unusual" : "", cell.hits ? "has-hits" : ""].filter(Boolean).join(" ");
  const td = el(
    "td",
    { class: classes, title: describe(cell, layout.underlying) },
    shortMoney(cell.premium).slice(1),
    cell.unusual ? el("span", { class: "marker unusual-marker" }, "◆") : null,
    cell.hits ? el("span", { class: "marker hit-marker" }, "●") : null
  );
  td.style.backgroundColor = colour(share);
  td.style.color = share > 0.65 ? "#111" : "#f0f3f6";
  td.dataset.premium = String(cell.premium);
  return td;
}

function describe(cell, underlying) {
  const lines = [
    `${underlying} $${strike(cell.strike)} ${cell.side === "CALL" ? "calls" : "puts"} ${cell.expiry}`,
    `premium ${money(cell.premium)} (${count(cell.volume)} contracts)`,
    cell.usual === null ? "usual: not enough history" : `usual ${money(cell.usual)}`,
  ];
  if (cell.multiple !== null) lines.push(`${cell.multiple}× its usual day`);
  if (cell.unusual) lines.push("unusual");
  if (cell.hits) lines.push(`${cell.hits} order hit${cell.hits === 1 ? "" : "s"}`);
  return lines.join("\n");
}

// premium -> 0..1 by its logarithm between the day's smallest and largest cell.
function logScale(premiums) {
  const logs = premiums.filter((premium) => premium > 0).map(Math.log10);
  const low = Math.min(...logs);
  const high = Math.max(...logs);
  const scale = (premium) => {
    if (premium <= 0) return 0;
    return high === low ? 1 : (Math.log10(premium) - low) / (high - low);
  };
  scale.low = 10 ** low;
  scale.high = 10 ** high;
  return scale;
}

function colour(share) {
  const position = Math.min(Math.max(share, 0), 1) * (STOPS.length - 1);
  const index = Math.min(Math.floor(position), STOPS.length - 2);
  const within = position - index;
  const [from, to] = [STOPS[index], STOPS[index + 1]];
  const channels = from.map((value, channel) => Math.round(value + (to[channel] - value) * within));
  return `rgb(${channels.join(", ")})`;
}

function legend(scale) {
  const gradient = STOPS.map((stop) => `rgb(${stop.join(", ")})`).join(", ");
  const bar = el("span", { class: "legend-bar" });
  bar.style.background = `linear-gradient(to right, ${gradient})`;
  return el(
    "p",
    { class: "legend muted" },
    el("span", {}, shortMoney(scale.low)),
    bar,
    el("span", {}, shortMoney(scale.high)),
    el("span", {}, "premium, log scale"),
    el("span", {}, el("span", { class: "unusual-marker" }, "◆"), " unusual (outlined)"),
    el("span", {}, el("span", { class: "hit-marker" }, "●"), " order hits")
  );
}
