// Inline SVG charts drawn from report numbers: horizontal bars, grouped bars, a stacked strip.
// Sized to the container's pixel width (redrawn on resize) so labels stay legible on a phone.

import { s, pct } from "./dom.js";

export const OWN_COLOR = "#2563eb";
const PALETTE = ["#f97316", "#10b981", "#a855f7", "#ef4444", "#14b8a6", "#eab308", "#64748b", "#ec4899"];

/** One color per brand: the own brand blue, competitors from the palette in order. */
export function brandColors(brands) {
  const colors = new Map();
  let next = 0;
  for (const brand of brands) {
    colors.set(brand.name, brand.is_own ? OWN_COLOR : PALETTE[next++ % PALETTE.length]);
  }
  return colors;
}

function shorten(text, maxWidth) {
  // CJK glyphs are about twice as wide as Latin ones at the same font size.
  let width = 0;
  let out = "";
  for (const ch of String(text)) {
    width += /[\u2e80-\uffff]/.test(ch) ? 12 : 7;
    if (width > maxWidth) return `${out}…`;
    out += ch;
  }
  return out;
}

function frame(width, height, title) {
  return s("svg", {
    class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title,
  }, s("title", {}, title));
}

/** rows: [{label, value (0..1 or null), color, own, ci: [lo, hi] | null, key}] */
export function barChart(rows, { width, title, format = pct, max = 1 }) {
  const rowH = 30;
  const labelW = Math.min(150, Math.max(84, width * 0.3));
  const valueW = 52;
  const barMax = Math.max(40, width - labelW - valueW - 8);
  const height = rows.length * rowH + 6;
  const svg = frame(width, height, title);
  rows.forEach((row, i) => {
    const y = i * rowH + 4;
    const value = row.value ?? 0;
    const w = Math.max(value > 0 ? 2 : 0, (value / max) * barMax);
    svg.append(
      s("text", { x: labelW - 8, y: y + 15, "text-anchor": "end", class: row.own ? "lbl own" : "lbl" },
        s("title", {}, row.label), shorten(row.label, labelW - 12)),
      s("rect", { x: labelW, y: y + 2, width: barMax, height: 18, rx: 4, class: "track" }),
      s("rect", {
        x: labelW, y: y + 2, width: w, height: 18, rx: 4, fill: row.color, class: "bar",
        "data-brand": row.key ?? row.label,
      }, s("title", {}, `${row.label}: ${row.value == null ? "–" : format(row.value)}`)),
    );
    if (row.ci) {
      const [lo, hi] = row.ci.map((v) => labelW + (v / max) * barMax);
      svg.append(s("path", { d: `M${lo},${y + 11}H${hi}M${lo},${y + 6}V${y + 16}M${hi},${y + 6}V${y + 16}`, class: "ci" }));
    }
    svg.append(s("text", { x: labelW + barMax + 6, y: y + 15, class: "val" },
      row.value == null ? "–" : format(row.value)));
  });
  return svg;
}

/** groups: [{label, rows: [...barChart rows]}]: a header line per group, then its bars. */
export function groupedChart(groups, { width, title, format = pct }) {
  const rowH = 24;
  const headH = 26;
  const labelW = Math.min(150, Math.max(84, width * 0.3));
  const valueW = 52;
  const barMax = Math.max(40, width - labelW - valueW - 8);
  const height = groups.reduce((sum, g) => sum + headH + g.rows.length * rowH, 0) + 8;
  const svg = frame(width, height, title);
  let y = 4;
  for (const group of groups) {
    svg.append(s("text", { x: 0, y: y + 17, class: "grp" }, group.label));
    svg.append(s("line", { x1: 0, x2: width, y1: y + headH - 2, y2: y + headH - 2, class: "sep" }));
    y += headH;
    for (const row of group.rows) {
      const value = row.value ?? 0;
      svg.append(
        s("text", { x: labelW - 8, y: y + 15, "text-anchor": "end", class: row.own ? "lbl own" : "lbl" },
          s("title", {}, row.label), shorten(row.label, labelW - 12)),
        s("rect", { x: labelW, y: y + 4, width: barMax, height: 14, rx: 3, class: "track" }),
        s("rect", {
          x: labelW, y: y + 4, width: Math.max(value > 0 ? 2 : 0, value * barMax), height: 14,
          rx: 3, fill: row.color, class: "bar", "data-brand": row.key ?? row.label,
          "data-group": group.key ?? group.label,
        }),
        s("text", { x: labelW + barMax + 6, y: y + 15, class: "val" },
          row.value == null ? "–" : format(row.value)),
      );
      y += rowH;
    }
  }
  return svg;
}

/** A single 100% bar split by share (share of voice at a glance). */
export function stackedStrip(parts, { width, title }) {
  const height = 20;
  const svg = frame(width, height, title);
  const total = parts.reduce((sum, p) => sum + (p.value || 0), 0) || 1;
  let x = 0;
  for (const part of parts) {
    const w = ((part.value || 0) / total) * width;
    if (w <= 0) continue;
    svg.append(s("rect", { x, y: 0, width: w, height, fill: part.color, class: "seg" },
      s("title", {}, `${part.label}: ${pct(part.value, 1)}`)));
    x += w;
  }
  return svg;
}
