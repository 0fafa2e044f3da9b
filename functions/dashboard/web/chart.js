// The hourly chart in plain SVG: events per hour (bars) above the total amount per hour
// (bars around a zero line, since refunds can make an hour negative). Hours missing from
// the answer are drawn as zero, so the time axis is continuous. Redrawn to the width of its
// container; a table of the non-empty hours follows for screen readers and exact values.

import { h, s, fill } from "./dom.js";

const HOUR = 3600 * 1000;

/**
 * Draw `data` (the body of GET /aggregates/hourly) into `container`.
 * Returns the hours drawn (for tests and captions).
 */
export function renderHourly(container, data) {
  const hours = continuousHours(data);
  const width = Math.max(300, Math.floor(container.clientWidth || 640));
  const total = hours.reduce((sum, hour) => sum + hour.count, 0);
  if (hours.length === 0) {
    fill(container, h("p", { class: "muted" }, "No hours in this range."));
    return hours;
  }
  const titleId = "chart-svg-title";
  const descId = "chart-svg-desc";
  const busiest = hours.reduce((best, hour) => (hour.count > best.count ? hour : best), hours[0]);
  const summary = total === 0
    ? `No events in the ${hours.length} hours shown.`
    : `${total} event${total === 1 ? "" : "s"} in ${hours.length} hours; the busiest hour is ${label(busiest.time, true)} UTC with ${busiest.count}.`;

  const countPanel = { top: 24, height: 120 };
  const totalPanel = { top: 24 + 120 + 50, height: 120 };
  const left = 56;
  const right = 10;
  const plotWidth = width - left - right;
  const height = totalPanel.top + totalPanel.height + 30;
  const step = plotWidth / hours.length;
  const barWidth = Math.max(1, Math.min(step * 0.8, 40));

  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-labelledby": `${titleId} ${descId}`,
    class: "hourly",
    "data-total-count": total,
  },
  s("title", { id: titleId }, "Events and total amount per hour"),
  s("desc", { id: descId }, summary));

  // events per hour
  const maxCount = niceCountMax(Math.max(...hours.map((hour) => hour.count)));
  const countY = (value) => countPanel.top + countPanel.height * (1 - value / maxCount);
  svg.append(panelTitle(left, countPanel.top, "Events per hour"));
  for (const tick of [0, maxCount / 2, maxCount]) {
    svg.append(gridLine(left, width - right, countY(tick), formatTick(tick)));
  }
  hours.forEach((hour, index) => {
    if (hour.count === 0) return;
    const y = countY(hour.count);
    svg.append(s("rect", {
      class: "bar count",
      x: (left + index * step + (step - barWidth) / 2).toFixed(2),
      y: y.toFixed(2),
      width: barWidth.toFixed(2),
      height: Math.max(1, countPanel.top + countPanel.height - y).toFixed(2),
      "data-hour": hour.hour,
      "data-count": hour.count,
    }, s("title", {}, `${label(hour.time, true)} UTC: ${hour.count} event${hour.count === 1 ? "" : "s"}, total ${hour.total_amount}`)));
  });

  // total amount per hour
  const totals = hours.map((hour) => Number(hour.total_amount) || 0);
  const high = niceMax(Math.max(0, ...totals));
  const lowRaw = Math.min(0, ...totals);
  const low = lowRaw < 0 ? -niceMax(-lowRaw) : 0;
  const span = high - low || 1;
  const totalY = (value) => totalPanel.top + totalPanel.height * (1 - (value - low) / span);
  svg.append(panelTitle(left, totalPanel.top, "Total amount per hour"));
  const ticks = low < 0 ? [low, 0, high] : [0, high / 2, high];
  for (const tick of ticks) {
    svg.append(gridLine(left, width - right, totalY(tick), formatTick(tick), tick === 0));
  }
  hours.forEach((hour, index) => {
    const value = totals[index];
    if (hour.count === 0 && value === 0) return;
    const zero = totalY(0);
    const y = totalY(value);
    svg.append(s("rect", {
      class: ["bar", "total", value < 0 && "negative"],
      x: (left + index * step + (step - barWidth) / 2).toFixed(2),
      y: Math.min(y, zero).toFixed(2),
      width: barWidth.toFixed(2),
      height: Math.max(1, Math.abs(zero - y)).toFixed(2),
      "data-hour": hour.hour,
      "data-total": hour.total_amount,
    }, s("title", {}, `${label(hour.time, true)} UTC: total ${hour.total_amount} over ${hour.count} event${hour.count === 1 ? "" : "s"}`)));
  });

  // hour labels under each panel
  const every = labelStep(step);
  hours.forEach((hour, index) => {
    if (index % every !== 0) return;
    const x = left + index * step + step / 2;
    for (const panel of [countPanel, totalPanel]) {
      svg.append(s("text", { class: "axis x", x: x.toFixed(2), y: panel.top + panel.height + 16, "text-anchor": "middle" }, label(hour.time, false)));
    }
  });

  const rows = hours.filter((hour) => hour.count !== 0 || hour.total_amount !== "0");
  const table = h("details", { class: "chart-table" },
    h("summary", {}, `Table of the ${rows.length} non-empty hour${rows.length === 1 ? "" : "s"}`),
    rows.length === 0
      ? h("p", { class: "muted" }, "No events in this range.")
      : h("table", {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Hour (UTC)"), h("th", { scope: "col", class: "num" }, "Events"), h("th", { scope: "col", class: "num" }, "Total amount"))),
          h("tbody", {}, rows.map((hour) => h("tr", {},
            h("td", { "data-label": "Hour (UTC)" }, label(hour.time, true)),
            h("td", { class: "num", "data-label": "Events" }, String(hour.count)),
            h("td", { class: "num", "data-label": "Total amount" }, hour.total_amount))))));

  fill(container,
    total === 0 ? h("p", { class: "muted empty" }, "No events in this range yet.") : null,
    svg,
    table);
  return hours;
}

/** Every hour from `from` to `to` (exclusive), with the answer's buckets filled in. */
function continuousHours(data) {
  const byTime = new Map();
  for (const bucket of Array.isArray(data.buckets) ? data.buckets : []) {
    const time = Date.parse(bucket.hour);
    if (!Number.isNaN(time)) {
      byTime.set(time, {
        hour: bucket.hour,
        time,
        count: Number(bucket.count) || 0,
        total_amount: String(bucket.total_amount ?? "0"),
      });
    }
  }
  const from = Date.parse(data.from);
  const to = Date.parse(data.to);
  if (Number.isNaN(from) || Number.isNaN(to) || to <= from || (to - from) / HOUR > 24 * 62) {
    return [...byTime.values()].sort((a, b) => a.time - b.time);
  }
  const hours = [];
  for (let time = from; time < to; time += HOUR) {
    hours.push(byTime.get(time) || {
      hour: new Date(time).toISOString().replace(/\.000Z$/, "Z"),
      time,
      count: 0,
      total_amount: "0",
    });
  }
  return hours;
}

function panelTitle(x, top, text) {
  return s("text", { class: "panel-title", x, y: top - 10, "text-anchor": "start" }, text);
}

function gridLine(x1, x2, y, text, strong = false) {
  return s("g", { class: ["grid", strong && "zero"] },
    s("line", { x1, x2, y1: y.toFixed(2), y2: y.toFixed(2) }),
    s("text", { class: "axis y", x: x1 - 6, y: (y + 4).toFixed(2), "text-anchor": "end" }, text));
}

/** A round upper bound of the axis: 1, 2, 5 x 10^n. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 5, 10]) {
    if (value <= factor * power) return factor * power;
  }
  return 10 * power;
}

/** A count axis whose half is a whole number too: 2, 4, 6, 8, 10, then 1, 2, 5 x 10^n. */
function niceCountMax(value) {
  if (value <= 10) return Math.max(2, Math.ceil(value / 2) * 2);
  return niceMax(value);
}

function formatTick(value) {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toLocaleString("en", { maximumFractionDigits: 1 })}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toLocaleString("en", { maximumFractionDigits: 1 })}k`;
  return value.toLocaleString("en", { maximumFractionDigits: 2 });
}

/** Label every n-th hour so labels stay about 48 px apart. */
function labelStep(step) {
  for (const every of [1, 2, 3, 4, 6, 12, 24, 48, 72, 168]) {
    if (every * step >= 48) return every;
  }
  return 336;
}

function label(time, long) {
  const iso = new Date(time).toISOString();
  const day = iso.slice(5, 10);
  const hour = iso.slice(11, 16);
  if (long) return `${iso.slice(0, 10)} ${hour}`;
  return hour === "00:00" ? day : hour;
}
