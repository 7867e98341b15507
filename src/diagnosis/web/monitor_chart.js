// A monitor's trend per brand as inline SVG: mention rate as a line with its 95% interval as a
// band, share of voice as a dashed line, one point per finished run (oldest on the left).

import { s, pct } from "./dom.js";

/** points: [{label, rate, ci: [lo, hi] | null, sov}] of one brand. */
export function trendChart(points, { width, color, title, labels }) {
  const height = 150;
  const left = 36;
  const right = 8;
  const top = 8;
  const bottom = 22;
  const plotW = Math.max(60, width - left - right);
  const plotH = height - top - bottom;
  const x = (i) => left + (points.length <= 1 ? plotW / 2 : (i / (points.length - 1)) * plotW);
  const y = (v) => top + (1 - Math.max(0, Math.min(1, v ?? 0))) * plotH;
  const svg = s("svg", {
    class: "chart trend", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title, "data-points": points.length,
  }, s("title", {}, title));
  for (const v of [0, 0.5, 1]) {
    svg.append(
      s("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, pct(v)));
  }
  const banded = points.map((p, i) => [i, p]).filter(([, p]) => p.ci);
  if (banded.length) {
    const upper = banded.map(([i, p]) => `${x(i)},${y(p.ci[1])}`);
    const lower = banded.slice().reverse().map(([i, p]) => `${x(i)},${y(p.ci[0])}`);
    svg.append(s("polygon", { points: [...upper, ...lower].join(" "), fill: color,
      "fill-opacity": 0.15, class: "ci-band" }, s("title", {}, labels.ci)));
  }
  const line = (key, extra) => s("polyline", {
    points: points.map((p, i) => `${x(i)},${y(p[key])}`).join(" "), fill: "none",
    stroke: color, "stroke-width": 2, ...extra,
  });
  svg.append(line("rate", { class: "rate-line" }),
    line("sov", { class: "sov-line", "stroke-dasharray": "5 4", "stroke-opacity": 0.7 }));
  points.forEach((p, i) => {
    svg.append(s("circle", { cx: x(i), cy: y(p.rate), r: 3.5, fill: color, class: "rate-dot" },
      s("title", {}, `${p.label}: ${labels.rate} ${pct(p.rate)}` +
        (p.ci ? ` (${pct(p.ci[0])}–${pct(p.ci[1])})` : "") + `, ${labels.sov} ${pct(p.sov)}`)));
  });
  if (points.length) {
    svg.append(
      s("text", { x: left, y: height - 6, class: "axis" }, points[0].label),
      s("text", { x: left + plotW, y: height - 6, "text-anchor": "end", class: "axis" },
        points[points.length - 1].label));
  }
  return svg;
}
