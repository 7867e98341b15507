// The Monitors pages: #/monitors (list, create, pause) and #/monitor/<id> (trend per brand,
// changes with significant ones marked, alert log, runs). Words in monitors_i18n.js.

import { api, request } from "./api.js";
import { brandColors } from "./charts.js";
import { clear, formatTime, h, num, pct } from "./dom.js";
import { currentLang, label, t } from "./i18n.js";
import { trendChart } from "./monitor_chart.js";
import "./monitors_i18n.js";

const REFRESH_MS = 3000;
const RATE_METRICS = new Set(["mention_rate", "share_of_voice", "top1_share"]);
const path = (id, tail = "") => `/api/monitors/${encodeURIComponent(id)}${tail}`;
const draft = { name: "", brand: "", competitors: "", questions: "", picked: null,
  samples: "3", minutes: "1440", cron: "", timezone: "Asia/Shanghai", drop: "10",
  overtake: true, failed: true, url: "", kind: "generic", secret: "", paused: false };

function lines(text) {
  return text.split("\n").map((v) => v.trim()).filter(Boolean);
}

function input(id, key, attrs = {}) {
  return h("input", { id, name: key, value: draft[key], ...attrs,
    oninput: (e) => { draft[key] = e.target.value; } });
}

function field(id, key, control) {
  return h("div", { class: "field" }, h("label", { for: id }, t(key)), control);
}

function check(id, key) {
  return h("label", { class: "chip-check" }, h("input", { type: "checkbox", id, checked: draft[key],
    onchange: (e) => { draft[key] = e.target.checked; } }), h("span", {}, t(key === "paused" ? "pausedLabel" : key)));
}

function monitorBody() {
  const alerts = [];
  if (draft.drop.trim()) alerts.push({ metric: "mention_rate", drop_points: Number(draft.drop) });
  if (draft.overtake) alerts.push({ kind: "overtake" });
  if (draft.failed) alerts.push({ kind: "run_failed" });
  const schedule = draft.cron.trim()
    ? { cron: draft.cron.trim(), timezone: draft.timezone.trim() || "UTC" }
    : { interval_s: Math.round(Number(draft.minutes) * 60) };
  const body = {
    name: draft.name.trim(), schedule, alerts, paused: draft.paused,
    diagnosis: { brand: draft.brand.trim(), competitors: lines(draft.competitors),
      questions: lines(draft.questions),
      platforms: [...(draft.picked || [])],
      samples: Number(draft.samples) || 1 },
  };
  if (draft.url.trim()) {
    body.webhook = { url: draft.url.trim(), kind: draft.kind };
    if (draft.secret) body.webhook.secret = draft.secret;
  }
  return body;
}

function platformPicker(platforms) {
  const usable = (platforms || []).filter((p) => p.configured);
  if (!draft.picked) draft.picked = new Set(usable.length === 1 ? [usable[0].id] : []);
  return h("div", { class: "platforms", id: "m-platforms" }, usable.map((p) =>
    h("label", { class: "chip-check", title: p.model || "" },
      h("input", { type: "checkbox", name: "m-platform", value: p.id, checked: draft.picked.has(p.id),
        onchange: (e) => { if (e.target.checked) draft.picked.add(p.id); else draft.picked.delete(p.id); } }),
      h("span", { class: "chip-name" }, p.display_name))));
}

function createForm(platforms, onCreated, showError) {
  const error = h("div", { class: "form-error", id: "monitor-error", role: "alert", hidden: true });
  const kind = h("select", { id: "m-kind", onchange: (e) => { draft.kind = e.target.value; } },
    ["generic", "wecom", "dingtalk", "feishu"].map((k) =>
      h("option", { value: k, selected: draft.kind === k }, k)));
  const form = h("form", { class: "card form", id: "new-monitor", novalidate: true },
    h("div", { class: "card-head" }, h("h2", {}, t("monitorNew"))),
    h("div", { class: "grid-2" },
      field("m-name", "monitorName", input("m-name", "name", { maxlength: 100 })),
      field("m-brand", "brand", input("m-brand", "brand", { maxlength: 100 }))),
    h("div", { class: "grid-2" },
      field("m-competitors", "competitors", h("textarea", { id: "m-competitors", rows: 3,
        oninput: (e) => { draft.competitors = e.target.value; } }, draft.competitors)),
      field("m-questions", "questions", h("textarea", { id: "m-questions", rows: 3,
        oninput: (e) => { draft.questions = e.target.value; } }, draft.questions))),
    h("div", { class: "grid-2" },
      h("div", { class: "field" }, h("label", {}, t("platforms")), platformPicker(platforms)),
      field("m-samples", "samples", input("m-samples", "samples", { type: "number", min: 1, max: 10 }))),
    h("div", { class: "grid-2" },
      field("m-minutes", "everyMinutes", input("m-minutes", "minutes", { type: "number", min: 1 })),
      field("m-cron", "cron", input("m-cron", "cron", { placeholder: "0 9 * * *" }))),
    h("div", { class: "grid-2" },
      field("m-timezone", "timezone", input("m-timezone", "timezone")),
      field("m-drop", "dropAlert", input("m-drop", "drop", { type: "number", min: 0, max: 100 }))),
    h("div", { class: "field" }, check("m-overtake", "overtake"), check("m-failed", "failed"),
      check("m-paused", "paused")),
    h("div", { class: "grid-2" },
      field("m-url", "webhookUrl", input("m-url", "url", { placeholder: "https://…" })),
      field("m-kind", "webhookKind", kind)),
    field("m-secret", "webhookSecret", input("m-secret", "secret", { type: "password", autocomplete: "off" })),
    error,
    h("button", { type: "submit", class: "btn primary", id: "m-create" }, t("create")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      const created = await request("POST", "/api/monitors", monitorBody());
      draft.secret = "";
      onCreated(created);
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      error.textContent = exc.message;
      error.hidden = false;
    }
  });
  return form;
}

function scheduleText(schedule) {
  return schedule.interval_s ? `${Math.round(schedule.interval_s / 60)} min`
    : `${schedule.cron} (${schedule.timezone})`;
}

function monitorList(state, reload, showError) {
  const body = h("div", { class: "history-list", id: "monitor-list" });
  const card = h("section", { class: "card history" },
    h("div", { class: "card-head" }, h("h2", {}, t("monitorsTitle")),
      h("p", { class: "muted" }, t("monitorsIntro"))), body);
  if (state.error) body.append(h("p", { class: "muted" }, t("loadFailed", state.error)));
  else if (state.items && !state.items.length) body.append(h("p", { class: "empty" }, t("monitorsEmpty")));
  for (const m of state.items || []) {
    const toggle = h("button", { type: "button", class: "btn ghost small toggle-pause",
      onclick: async (e) => {
        e.preventDefault();
        try {
          await request("PATCH", path(m.monitor_id), { paused: !m.paused });
        } catch (exc) {
          if (exc.isAuth) showError(exc);
        }
        reload();
      } }, m.paused ? t("resume") : t("pause"));
    body.append(h("div", { class: "history-item monitor-item", "data-id": m.monitor_id,
      "data-paused": String(m.paused) },
    h("a", { class: "hi-main", href: `#/monitor/${encodeURIComponent(m.monitor_id)}` },
      h("strong", {}, m.name), h("span", { class: "muted" }, ` · ${m.diagnosis.brand}`)),
    h("div", { class: "hi-meta" },
      h("span", { class: `badge ${m.paused ? "st-cancelled" : "st-running"}` },
        m.paused ? t("paused") : t("active")),
      h("span", { class: "muted" }, scheduleText(m.schedule)),
      h("span", { class: "muted" }, `${t("nextRun")}: ${formatTime(m.next_run_at, currentLang())}`),
      toggle)));
  }
  return card;
}

/** #/monitors */
export function mountMonitors(root, { navigate, showError }) {
  const state = { items: null, error: null, platforms: null };
  let alive = true;
  const listSlot = h("div");
  const formSlot = h("div");
  clear(root).append(h("div", { class: "home" }, listSlot, formSlot));
  const renderList = () => { if (alive) clear(listSlot).append(monitorList(state, load, showError)); };
  const render = () => {
    renderList();
    if (alive) clear(formSlot).append(createForm(state.platforms, () => load(), showError));
  };
  async function loadPlatforms() {
    try {
      state.platforms = await api.platforms();
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      state.platforms = [];
    }
    render();
  }
  async function load() {
    try {
      state.items = (await request("GET", "/api/monitors")).items;
      state.error = null;
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      state.error = exc.message;
    }
    renderList();
  }
  render();
  load();
  loadPlatforms();
  return { render, destroy: () => { alive = false; } };
}

function brandSeries(points) {
  const series = new Map();
  for (const point of points) {
    for (const b of point.brands) {
      if (!series.has(b.name)) series.set(b.name, { brand: b, points: [] });
      series.get(b.name).points.push({
        label: formatTime(point.scheduled_for || point.finished_at, currentLang()),
        rate: b.mention_rate, ci: b.mention_rate_ci, sov: b.share_of_voice,
      });
    }
  }
  return [...series.values()];
}

function trendCard(trend, width) {
  const body = h("div", { class: "trend-grid", id: "trend" });
  const card = h("section", { class: "card" }, h("div", { class: "card-head" },
    h("h2", {}, t("trendTitle")),
    h("p", { class: "muted" }, `— ${t("mentionRate")} ▒ ${t("ciBand")}  ‐ ‐ ${t("sov")}`)), body);
  if (!trend || !trend.points.length) {
    body.append(h("p", { class: "empty" }, t("trendEmpty")));
    return card;
  }
  const series = brandSeries(trend.points);
  const colors = brandColors(series.map((x) => x.brand));
  for (const { brand, points } of series) {
    body.append(h("div", { class: "trend-brand", "data-brand": brand.name },
      h("h3", {}, brand.is_own ? `${brand.name} ★` : brand.name),
      trendChart(points, { width, color: colors.get(brand.name), title: brand.name,
        labels: { rate: t("mentionRate"), sov: t("sov"), ci: t("ciBand") } })));
  }
  return card;
}

function show(metric, value) {
  if (value == null) return "–";
  return RATE_METRICS.has(metric) ? pct(value, 1) : num(value, 2);
}

function changesCard(changes) {
  const card = h("section", { class: "card" }, h("div", { class: "card-head" },
    h("h2", {}, t("changesTitle")), h("p", { class: "muted" }, changes?.method || "")));
  if (!changes || !changes.items.length) {
    card.append(h("p", { class: "empty" }, t("changesEmpty")));
    return card;
  }
  const rows = [];
  for (const pair of changes.items) {
    if (pair.break) {
      rows.push(h("tr", { class: "break" }, h("td", { colspan: 6 }, t("breakLabel", pair.break_reason))));
      continue;
    }
    for (const c of pair.changes) {
      rows.push(h("tr", { class: c.significant ? "significant" : "", "data-metric": c.metric,
        "data-brand": c.brand, title: c.note || (c.p_value != null ? `p = ${c.p_value}` : "") },
      h("td", {}, c.brand), h("td", {}, label("metricName", c.metric)),
      h("td", {}, show(c.metric, c.before)), h("td", {}, show(c.metric, c.after)),
      h("td", {}, c.delta == null ? "–" : (c.delta > 0 ? "+" : "") + (RATE_METRICS.has(c.metric)
        ? `${(c.delta * 100).toFixed(1)} pp` : num(c.delta, 2))),
      h("td", {}, c.significant ? h("strong", { class: "sig-mark" }, `★ ${t("significant")}`)
        : h("span", { class: "muted" }, c.test ? t("notSignificant") : "–"))));
    }
  }
  card.append(h("div", { class: "table-wrap" }, h("table", { class: "data", id: "changes-table" },
    h("thead", {}, h("tr", {}, [t("brand"), t("metric"), t("before"), t("after"), t("delta"), ""]
      .map((x) => h("th", {}, x)))),
    h("tbody", {}, rows))));
  return card;
}

function alertsCard(alerts) {
  const card = h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, t("alertsTitle"))));
  if (!alerts || !alerts.items.length) {
    card.append(h("p", { class: "empty" }, t("alertsEmpty")));
    return card;
  }
  card.append(h("div", { class: "history-list", id: "alert-log" }, alerts.items.map((a) =>
    h("div", { class: "history-item alert-item", "data-status": a.status },
      h("div", { class: "hi-main" }, h("span", {}, a.message)),
      h("div", { class: "hi-meta" },
        h("span", { class: `badge st-${a.status === "failed" ? "failed" : "completed"}` },
          label("alertStatus", a.status)),
        h("span", { class: "muted" }, t("deliveries", a.deliveries.length)),
        h("span", { class: "muted" }, formatTime(a.fired_at, currentLang())))))));
  return card;
}

function runsCard(runs) {
  const card = h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, t("runsTitle"))));
  card.append(h("div", { class: "history-list", id: "monitor-runs" }, (runs?.items || []).map((r) =>
    h("a", { class: "history-item", href: `#/run/${encodeURIComponent(r.execution_id)}` },
      h("div", { class: "hi-main" }, h("strong", {}, formatTime(r.scheduled_for, currentLang()))),
      h("div", { class: "hi-meta" }, h("span", { class: `badge st-${r.status}` }, label("status", r.status)))))));
  return card;
}

/** #/monitor/<id> */
export function mountMonitor(root, monitorId, { showError }) {
  const state = {};
  let alive = true;
  let timer = null;
  const render = () => {
    if (!alive) return;
    // As many 280+ px columns as the card holds (monitors.css), each chart as wide as its column.
    const inner = Math.max(280, (root.clientWidth || 600) - 48);
    const columns = Math.max(1, Math.floor((inner + 16) / 296));
    const width = Math.floor((inner - 16 * (columns - 1)) / columns);
    const m = state.monitor;
    const head = h("section", { class: "card" }, h("div", { class: "card-head row wrap" },
      h("div", {}, h("a", { href: "#/monitors" }, t("backToMonitors")),
        h("h2", { id: "monitor-name" }, m ? m.name : monitorId),
        m ? h("p", { class: "muted" }, `${m.diagnosis.brand} · ${scheduleText(m.schedule)} · ${t("nextRun")}: ${formatTime(m.next_run_at, currentLang())}`) : null),
      h("div", {},
        h("button", { type: "button", class: "btn primary small", id: "run-now", onclick: async () => {
          try { await request("POST", path(monitorId, "/run")); } catch (exc) { if (exc.isAuth) showError(exc); }
          load();
        } }, t("runNow")))));
    clear(root).append(h("div", { class: "monitor-detail" }, head, trendCard(state.trend, width),
      changesCard(state.changes), alertsCard(state.alerts), runsCard(state.runs)));
  };
  async function load() {
    try {
      const [monitor, trend, changes, alerts, runs] = await Promise.all([
        request("GET", path(monitorId)), request("GET", path(monitorId, "/trend")),
        request("GET", path(monitorId, "/changes")), request("GET", path(monitorId, "/alerts")),
        request("GET", path(monitorId, "/runs?limit=20")),
      ]);
      Object.assign(state, { monitor, trend, changes, alerts, runs });
    } catch (exc) {
      if (exc.isAuth) showError(exc);
    }
    render();
    if (alive) timer = setTimeout(load, REFRESH_MS);
  }
  render();
  load();
  return { render, resize: render, destroy: () => { alive = false; clearTimeout(timer); } };
}
