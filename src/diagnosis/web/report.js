// The finished report (GET /report JSON): key numbers, SVG charts, brand table, gaps, sources,
// errors, and links to the md / csv / html formats. Text from the report goes in as text only.

import { api, getToken } from "./api.js";
import { barChart, brandColors, groupedChart, stackedStrip } from "./charts.js";
import { clear, h, num, pct } from "./dom.js";
import { label, t } from "./i18n.js";

function downloadLinks(id) {
  const link = (format, text) => h("a", {
    class: "btn ghost small", href: `/api/diagnoses/${encodeURIComponent(id)}/report?format=${format}`,
    "data-format": format, target: format === "html" ? "_blank" : null,
    rel: format === "html" ? "noopener" : null, download: format === "html" ? null : `diagnosis-${id}.${format}`,
    onclick: (event) => {
      // With auth on a plain link cannot carry the Bearer header: fetch it and hand over a blob.
      if (!getToken()) return;
      event.preventDefault();
      api.download(id, format).catch(() => {});
    },
  }, text);
  return h("div", { class: "downloads", id: "downloads" },
    h("span", { class: "muted small" }, t("download")),
    link("md", "Markdown"), link("csv", "CSV"), link("html", t("openHtml")));
}

function kpi(title, value, extra) {
  return h("div", { class: "kpi" }, h("span", { class: "kpi-title" }, title),
    h("strong", {}, value), extra ? h("span", { class: "muted small" }, extra) : null);
}

function kpis(report) {
  const own = report.brands.find((b) => b.is_own) || report.brands[0];
  const s = report.summary;
  return h("div", { class: "kpis" },
    kpi(t("visibility"), own ? num(own.visibility_score, 0) : "–", own ? own.name : ""),
    kpi(t("mentionRate"), own ? pct(own.mention_rate) : "–",
      own?.mention_rate_ci ? `95% CI ${pct(own.mention_rate_ci[0])}–${pct(own.mention_rate_ci[1])}` : null),
    kpi(t("avgRank"), own ? num(own.avg_rank) : "–"),
    kpi(t("sov"), own ? pct(own.share_of_voice) : "–"),
    kpi(t("sentiment"), own ? num(own.sentiment_index, 2) : "–"),
    kpi(t("summaryOk"), `${s.ok_results} / ${s.total_results}`,
      s.failed_results ? `${t("summaryFailed")} ${s.failed_results}` : null));
}

function brandTable(report) {
  return h("div", { class: "table-wrap" }, h("table", { class: "data", id: "brand-table" },
    h("thead", {}, h("tr", {}, [t("colBrand"), t("mentionRate"), t("avgRank"), t("top1"), t("sov"),
      t("sentiment"), t("visibility")].map((x) => h("th", {}, x)))),
    h("tbody", {}, report.brands.map((b) => h("tr", { class: b.is_own ? "own-row" : "" },
      h("td", {}, b.name, b.is_own ? h("span", { class: "tag own" }, t("own")) : null),
      h("td", { class: "n" }, pct(b.mention_rate)), h("td", { class: "n" }, num(b.avg_rank)),
      h("td", { class: "n" }, pct(b.top1_share)), h("td", { class: "n" }, pct(b.share_of_voice)),
      h("td", { class: "n" }, num(b.sentiment_index, 2)),
      h("td", { class: "n" }, num(b.visibility_score, 0)))))));
}

function gapsSection(report) {
  const body = report.gaps.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "data", id: "gaps-table" },
      h("thead", {}, h("tr", {}, [t("colQuestion"), t("colGapAnswers"), t("colCompetitors"), t("colPlatform")]
        .map((x) => h("th", {}, x)))),
      h("tbody", {}, report.gaps.map((g) => h("tr", {},
        h("td", {}, g.question, h("span", { class: `tag ${g.kind}` }, t(g.kind))),
        h("td", { class: "n" }, `${g.gap_answers} / ${g.answers}`),
        h("td", {}, h("span", { class: "chips" }, g.competitors.map((c) =>
          h("span", { class: "chip" }, c, h("b", {}, ` ×${g.competitor_counts[c] ?? ""}`))))),
        h("td", {}, g.platforms.join(", ")))))))
    : h("p", { class: "empty" }, t("gapsEmpty"));
  return h("section", { class: "card", id: "gaps" },
    h("div", { class: "card-head" }, h("h2", {}, t("gaps")), h("p", { class: "muted small" }, t("gapsHint"))),
    body);
}

function sourcesSection(report) {
  // Registrable domains with their kind when the report has them; older reports: hosts.
  const sites = report.sources.domains;
  const top = sites
    ? sites.slice(0, 10).map((d) => ({ domain: d.registrable_domain, count: d.answers, kind: d.kind }))
    : report.sources.top_domains.slice(0, 10);
  const max = Math.max(1, ...top.map((d) => d.count));
  return h("section", { class: "card", id: "sources" }, h("h2", {}, t("sources")),
    top.length ? h("ol", { class: "source-list" }, top.map((d) => h("li", {},
      h("span", { class: "domain" }, d.domain,
        d.kind ? h("span", { class: "tag", "data-kind": d.kind }, label("sourceKind", d.kind)) : null),
      h("span", { class: "mini-bar wide" }, h("i", { style: `width:${(100 * d.count) / max}%` })),
      h("span", { class: "n" }, String(d.count)))))
      : h("p", { class: "empty" }, t("sourcesEmpty")));
}

function sourceKinds(report) {
  const kinds = Object.entries(report.sources.kinds || {}).filter(([, share]) => share > 0);
  if (!kinds.length) return null;
  return h("div", { class: "source-kinds" }, h("h3", {}, t("sourceKinds")),
    h("div", { class: "chips" }, kinds.map(([kind, share]) =>
      h("span", { class: "chip", "data-kind": kind }, label("sourceKind", kind), h("b", {}, ` ${pct(share)}`)))));
}

function opportunitiesSection(report) {
  const rows = report.sources.opportunities;
  if (!rows) return null; // a report stored before sources had kinds
  const body = rows.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "data", id: "opportunities-table" },
      h("thead", {}, h("tr", {}, [t("colSite"), t("colKind"), t("colAnswers"), t("colCompetitors")]
        .map((x) => h("th", {}, x)))),
      h("tbody", {}, rows.slice(0, 10).map((o) => h("tr", {},
        h("td", {}, o.registrable_domain, o.url ? h("div", { class: "muted small" }, o.url) : null),
        h("td", {}, label("sourceKind", o.kind)),
        h("td", { class: "n" }, String(o.answers)),
        h("td", {}, h("span", { class: "chips" }, o.competitors.map((c) => h("span", { class: "chip" }, c)))))))))
    : h("p", { class: "empty" }, t("opportunitiesEmpty"));
  return h("section", { class: "card", id: "opportunities" },
    h("div", { class: "card-head" }, h("h2", {}, t("opportunities")),
      h("p", { class: "muted small" }, t("opportunitiesHint"))),
    sourceKinds(report), body);
}

function discoveredSection(report) {
  const rows = report.discovered_brands;
  if (!rows) return null; // a report stored before discovery existed
  const body = rows.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "data", id: "discovered-table" },
      h("thead", {}, h("tr", {}, [t("colBrand"), t("colMentions"), t("chartMention"), t("colAvgRank"), t("colExample")]
        .map((x) => h("th", {}, x)))),
      h("tbody", {}, rows.map((d) => h("tr", {},
        h("td", {}, d.name),
        h("td", { class: "n" }, String(d.mentions)),
        h("td", { class: "n" }, pct(d.mention_rate)),
        h("td", { class: "n" }, num(d.avg_rank)),
        h("td", { class: "muted small" }, d.example))))))
    : h("p", { class: "empty" }, t("discoveredEmpty"));
  return h("section", { class: "card", id: "discovered" },
    h("div", { class: "card-head" }, h("h2", {}, t("discovered")),
      h("p", { class: "muted small" }, t("discoveredHint"))),
    body);
}

function errorsSection(report) {
  const kinds = Object.entries(report.errors.by_kind || {});
  if (!kinds.length) return null;
  return h("section", { class: "card", id: "errors" }, h("h2", {}, t("errors")),
    h("div", { class: "chips" }, kinds.map(([kind, count]) =>
      h("span", { class: "chip err", "data-kind": kind }, label("errorKind", kind), h("b", {}, ` ×${count}`)))));
}

/** Returns {el, draw}: call draw() once `el` is in the document, and again on resize. */
export function renderReport(report, executionId) {
  const colors = brandColors(report.brands);
  const mentionBox = h("div", { class: "chart-box", id: "chart-mention" });
  const sovBox = h("div", { class: "chart-box", id: "chart-sov" });
  const platformBox = h("div", { class: "chart-box", id: "chart-platforms" });
  const legend = h("div", { class: "legend" }, report.brands.map((b) =>
    h("span", {}, h("i", { style: `background:${colors.get(b.name)}` }), b.name)));

  const el = h("div", { class: "report", id: "report" },
    h("section", { class: "card" },
      h("div", { class: "card-head row wrap" }, h("h2", {}, t("report")), downloadLinks(executionId)),
      kpis(report),
      report.summary.note ? h("p", { class: "note" }, `${t("note")}: ${report.summary.note}`) : null),
    h("div", { class: "grid-2 charts" },
      h("section", { class: "card" }, h("h3", {}, t("chartMention")), mentionBox),
      h("section", { class: "card" }, h("h3", {}, t("chartSov")), sovBox)),
    h("section", { class: "card" }, h("div", { class: "card-head row wrap" }, h("h3", {}, t("chartPlatform")), legend),
      platformBox),
    h("section", { class: "card" }, h("h3", {}, t("brandsTable")), brandTable(report)),
    gapsSection(report),
    h("div", { class: "grid-2" }, sourcesSection(report), errorsSection(report)),
    opportunitiesSection(report),
    discoveredSection(report));

  const brandRows = (metric, withCi) => report.brands.map((b) => ({
    label: b.name, key: b.name, value: b[metric], color: colors.get(b.name), own: b.is_own,
    ci: withCi ? b.mention_rate_ci : null,
  }));

  function draw() {
    const width = (box) => Math.max(240, Math.floor(box.clientWidth || 480));
    clear(mentionBox).append(barChart(brandRows("mention_rate", true),
      { width: width(mentionBox), title: t("chartMention") }));
    clear(sovBox).append(
      stackedStrip(report.brands.map((b) => ({ label: b.name, value: b.share_of_voice, color: colors.get(b.name) })),
        { width: width(sovBox), title: t("chartSov") }),
      barChart(brandRows("share_of_voice", false), { width: width(sovBox), title: t("chartSov") }));
    clear(platformBox).append(groupedChart(report.platforms.map((p) => ({
      label: `${p.display_name} · ${p.ok} ${label("status", "ok")}${p.failed ? ` · ${p.failed} ${label("status", "error")}` : ""}`,
      key: p.platform,
      rows: p.brands.map((b) => ({ label: b.name, key: b.name, value: b.mention_rate, color: colors.get(b.name), own: b.is_own })),
    })), { width: width(platformBox), title: t("chartPlatform") }));
  }

  return { el, draw };
}
