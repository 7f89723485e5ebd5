// An underlying's premium over a day (/api/premium), running totals minute by minute, drawn by
// uPlot (loaded before this module as the global `uPlot`): net (calls − puts) and the order
// hits' signed premium stand out, calls and puts run thinner beside them.

import { NEW_YORK, el, newYorkTime, shortMoney } from "./common.js";

const HEIGHT = 280;
const AXIS = { stroke: "#8b949e", grid: { stroke: "#21262d" }, ticks: { stroke: "#30363d" } };
let chart = null;
let box = null;

export function drawPremium(container, data) {
  if (chart) chart.destroy();
  chart = null;
  box = container;
  container.replaceChildren();
  if (!data.time.length) {
    container.append(el("p", { class: "muted" }, `No ${data.ticker} premium counted on ${data.day}.`));
    return;
  }
  const dollars = (_chart, value) => (value === null ? "—" : shortMoney(value));
  const options = {
    width: container.clientWidth,
    height: HEIGHT,
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), NEW_YORK),
    scales: { x: { time: true } },
    axes: [
      { ...AXIS, values: (_chart, ticks) => ticks.map(clock) },
      { ...AXIS, size: 60, values: (_chart, ticks) => ticks.map((dollars) => shortMoney(dollars)) },
    ],
    series: [
      { label: "Time (NY)", value: (_chart, seconds) => (seconds === null ? "—" : clock(seconds)) },
      { label: "Net (calls − puts)", stroke: "#58a6ff", width: 2, value: dollars },
      { label: "Order hits, signed", stroke: "#d29922", width: 2, value: dollars },
      { label: "Calls", stroke: "#3fb950", width: 1, value: dollars },
      { label: "Puts", stroke: "#f85149", width: 1, value: dollars },
    ],
  };
  chart = new uPlot(options, [data.time, data.net, data.hits_net, data.calls, data.puts], container);
}

// 09:31: New York, 24-hour, as the rest of flowsite writes times.
function clock(seconds) {
  return newYorkTime(seconds * 1000).slice(0, 5);
}

window.addEventListener("resize", () => {
  if (chart) chart.setSize({ width: box.clientWidth, height: HEIGHT });
});
