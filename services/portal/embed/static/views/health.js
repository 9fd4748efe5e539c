// Endpoint health (GET /v1/workspace/destinations/{id}/stats): the success rate and a
// sparkline in the destination list, and on a destination's page a chart of delivered /
// failed / exhausted per bucket and one of the latency. Inline SVG drawn from the answer;
// each chart is an image with a text summary, and its numbers are also in a table that
// screen readers (and anyone expanding "Figures") can read.

import { formatLatency, h, uid } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
export const WINDOWS = [
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
];
const SERIES = [
  ["delivered", "Delivered"],
  ["failed", "Failed attempts"],
  ["exhausted", "Exhausted"],
];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child instanceof Node) el.append(child);
    else if (child !== null && child !== undefined) el.append(document.createTextNode(String(child)));
  }
  return el;
}

export function statsPath(id, window = "24h") {
  return `/v1/workspace/destinations/${encodeURIComponent(id)}/stats?window=${window}`;
}

/** "99.2 %", or "—" while nothing ended in the window. */
export function formatRate(rate) {
  if (rate === null || rate === undefined) return "—";
  const percent = rate * 100;
  return `${percent === 100 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)} %`;
}

function summary(stats) {
  return `${stats.delivered} delivered, ${stats.failed} failed attempts, ${stats.exhausted} exhausted`;
}

function bucketLabel(start, window) {
  const date = new Date(start);
  const options = window === "7d"
    ? { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" }
    : { hour: "2-digit", minute: "2-digit" };
  return date.toLocaleString(undefined, options);
}

/** The list's sparkline: attempts per bucket, failed ones stacked in their own colour. */
export function sparkline(stats) {
  const width = 96;
  const height = 24;
  const buckets = stats.buckets;
  const most = Math.max(1, ...buckets.map((b) => b.delivered + b.failed));
  const step = width / buckets.length;
  const bars = buckets.flatMap((b, i) => {
    const ok = (b.delivered / most) * height;
    const bad = (b.failed / most) * height;
    return [
      ok > 0 ? svg("rect", { class: "bar-delivered", x: i * step, y: height - ok, width: step - 1, height: ok }) : null,
      bad > 0 ? svg("rect", { class: "bar-failed", x: i * step, y: height - ok - bad, width: step - 1, height: bad }) : null,
    ];
  });
  return svg("svg", {
    class: "sparkline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Last 24 hours: ${summary(stats)}`,
  }, svg("line", { class: "axis", x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5 }), bars);
}

/** The list's cell: success rate and sparkline, filled in when the stats arrive. */
export function healthCell(api, destination) {
  const cell = h("td", { class: "health", dataset: { health: destination.id } }, h("span", { class: "metric" }, "…"));
  if (destination.type === "slack") {
    cell.replaceChildren("—");
    return cell;
  }
  api.get(statsPath(destination.id)).then((stats) => {
    cell.replaceChildren(
      h("span", { class: "rate", title: "Delivered ÷ (delivered + exhausted), last 24 hours" }, formatRate(stats.success_rate)),
      sparkline(stats));
  }, () => cell.replaceChildren(h("span", { class: "metric" }, "unavailable")));
  return cell;
}

const CHART = { width: 640, height: 180, left: 44, right: 8, top: 10, bottom: 26 };

function frame(max, labels, unit) {
  const { width, height, left, right, top, bottom } = CHART;
  const plot = height - top - bottom;
  const ticks = [0, max / 2, max].map((value) => {
    const y = top + plot - (value / max) * plot;
    return [
      svg("line", { class: "grid", x1: left, y1: y, x2: width - right, y2: y }),
      svg("text", { class: "tick", x: left - 6, y: y + 4, "text-anchor": "end" },
        unit === "ms" ? formatLatency(value) : Number(value.toFixed(1))),
    ];
  });
  const step = (width - left - right) / labels.length;
  const every = Math.ceil(labels.length / 6);
  const xLabels = labels.map((label, i) => (i % every === 0
    ? svg("text", { class: "tick", x: left + i * step + step / 2, y: height - 8, "text-anchor": "middle" }, label)
    : null));
  return { ticks, xLabels, step, plot };
}

/** Delivered / failed / exhausted per bucket, side by side. */
function outcomesChart(stats, window) {
  const { width, height, left, top } = CHART;
  const max = Math.max(1, ...stats.buckets.flatMap((b) => SERIES.map(([key]) => b[key])));
  const labels = stats.buckets.map((b) => bucketLabel(b.start, window));
  const { ticks, xLabels, step, plot } = frame(max, labels, "count");
  const barWidth = Math.max(1, (step - 2) / SERIES.length);
  const bars = stats.buckets.flatMap((b, i) => SERIES.map(([key], s) => {
    const value = b[key];
    if (!value) return null;
    const barHeight = (value / max) * plot;
    return svg("rect", {
      class: `bar-${key}`, x: left + i * step + 1 + s * barWidth, y: top + plot - barHeight,
      width: barWidth, height: barHeight,
    }, svg("title", {}, `${labels[i]}: ${value} ${key}`));
  }));
  return svg("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Outcomes per bucket: ${summary(stats)}`,
  }, ticks, xLabels, bars);
}

/** p50 and p95 latency per bucket, as lines (gaps where nothing was answered). */
function latencyChart(stats, window) {
  const { width, height, left, top } = CHART;
  const values = stats.buckets.flatMap((b) => (b.latency_ms ? [b.latency_ms.p95] : []));
  const max = Math.max(1, ...values);
  const labels = stats.buckets.map((b) => bucketLabel(b.start, window));
  const { ticks, xLabels, step, plot } = frame(max, labels, "ms");
  const line = (key) => {
    const points = stats.buckets.map((b, i) => (b.latency_ms
      ? [left + i * step + step / 2, top + plot - (b.latency_ms[key] / max) * plot] : null));
    const runs = [];
    let run = [];
    for (const point of points) {
      if (point) run.push(point);
      else if (run.length) { runs.push(run); run = []; }
    }
    if (run.length) runs.push(run);
    return runs.map((r) => (r.length === 1
      ? svg("circle", { class: `dot-${key}`, cx: r[0][0], cy: r[0][1], r: 3 })
      : svg("polyline", { class: `line-${key}`, points: r.map((p) => p.join(",")).join(" ") })));
  };
  const overall = stats.latency_ms
    ? `median ${formatLatency(stats.latency_ms.p50)}, 95th percentile ${formatLatency(stats.latency_ms.p95)}`
    : "no attempt got an answer";
  return svg("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `Latency: ${overall}`,
  }, ticks, xLabels, line("p95"), line("p50"));
}

function legend(items) {
  return h("ul", { class: "legend" }, items.map(([key, label]) => h("li", {},
    h("span", { class: `swatch swatch-${key}`, "aria-hidden": "true" }), label)));
}

function figuresTable(stats, window) {
  return h("details", { class: "figures" }, h("summary", {}, "Figures"),
    h("div", { class: "table-wrap" }, h("table", { class: "data" },
      h("caption", { class: "visually-hidden" }, "Endpoint health per bucket"),
      h("thead", {}, h("tr", {}, ["Bucket", "Delivered", "Failed", "Exhausted", "p50", "p95"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, stats.buckets.map((b) => h("tr", {},
        h("th", { scope: "row" }, h("time", { datetime: b.start }, bucketLabel(b.start, window))),
        h("td", { class: "num" }, b.delivered), h("td", { class: "num" }, b.failed), h("td", { class: "num" }, b.exhausted),
        h("td", { class: "num" }, formatLatency(b.latency_ms?.p50)),
        h("td", { class: "num" }, formatLatency(b.latency_ms?.p95))))))));
}

function healthBody(stats, window) {
  const headline = h("dl", { class: "health-facts" },
    h("dt", {}, "Success rate"), h("dd", { dataset: { stat: "success_rate" } }, formatRate(stats.success_rate)),
    h("dt", {}, "Delivered"), h("dd", { dataset: { stat: "delivered" } }, stats.delivered),
    h("dt", {}, "Failed attempts"), h("dd", { dataset: { stat: "failed" } }, stats.failed),
    h("dt", {}, "Exhausted"), h("dd", { dataset: { stat: "exhausted" } }, stats.exhausted),
    h("dt", {}, "Latency p50 / p95"),
    h("dd", { dataset: { stat: "latency" } }, stats.latency_ms
      ? `${formatLatency(stats.latency_ms.p50)} / ${formatLatency(stats.latency_ms.p95)}` : "—"));
  return [
    headline,
    h("h3", {}, "Outcomes"),
    legend(SERIES),
    outcomesChart(stats, window),
    h("h3", {}, "Latency"),
    legend([["p50", "Median (p50)"], ["p95", "95th percentile"]]),
    latencyChart(stats, window),
    figuresTable(stats, window),
  ];
}

/** The destination page's "Health" section, with its window picker. */
export function healthSection(ctx, id) {
  const titleId = uid("health");
  const body = h("div", { class: "health-body", "aria-live": "polite" }, h("p", { class: "loading" }, "Loading…"));
  const picker = h("div", { class: "segmented", role: "group", "aria-label": "Window" },
    WINDOWS.map(([value, label]) => h("button", {
      type: "button", class: "secondary", value, "aria-pressed": value === "24h" ? "true" : "false",
      onclick: () => show(value),
    }, label)));
  async function show(window) {
    for (const button of picker.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.value === window));
    }
    try {
      const stats = await ctx.api.get(statsPath(id, window));
      body.replaceChildren(...healthBody(stats, window));
    } catch (error) {
      body.replaceChildren(h("p", { class: "field-error" }, `Health unavailable: ${error.message}`));
    }
  }
  show("24h");
  return h("section", { class: "panel health", "aria-labelledby": titleId },
    h("div", { class: "section-head" }, h("h2", { id: titleId }, "Health"), picker), body);
}
