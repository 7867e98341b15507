// The live view of one execution: progress from SSE `progress` events, result rows from `task`
// events keyed by task_key (a reconnect or a reload never duplicates a row), cancel, then the report.

import { api } from "./api.js";
import { clear, formatMs, formatTime, h } from "./dom.js";
import { currentLang, label, t } from "./i18n.js";
import { renderReport } from "./report.js";

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 10000;

function rowFromTask(task) {
  return {
    task_key: task.task_key, question: task.question, subject: task.subject, platform: task.platform,
    status: task.status, error_kind: task.error_kind, latency_ms: task.latency_ms,
    attempts: task.attempts, mentions: task.mentions || [], preview: task.answer_preview || "",
  };
}

function rowFromResult(result) {
  return {
    task_key: result.task_key, question: result.question, subject: result.subject,
    platform: result.platform, status: result.status, error_kind: result.error_kind,
    latency_ms: result.latency_ms, attempts: result.attempts,
    mentions: result.analysis?.mentions || [], preview: (result.answer || "").slice(0, 160),
  };
}

function statusBadge(row) {
  if (row.status === "ok") return h("span", { class: "badge st-ok" }, label("status", "ok"));
  const kind = row.error_kind || row.status;
  return h("span", { class: `badge st-error kind-${kind}`, "data-kind": kind, title: kind },
    label("errorKind", kind));
}

function mentionChips(mentions) {
  if (!mentions.length) return h("span", { class: "muted small" }, t("noMention"));
  return h("span", { class: "chips" }, mentions.map((m) => h("span", {
    class: `chip sent-${m.sentiment}`, title: label("sentimentLabel", m.sentiment),
  }, m.brand, m.rank != null ? h("b", {}, ` #${m.rank}`) : null)));
}

export function mountRun(root, executionId, { navigate, showError }) {
  const state = {
    status: null, conn: "connecting", cancelling: false, report: null, reportError: null,
    notFound: false, loadError: null, actionError: null,
  };
  const rows = new Map(); // task_key -> row data
  const rowEls = new Map(); // task_key -> <tr>
  let source = null;
  let retryTimer = null;
  let retryDelay = RECONNECT_MIN_MS;
  let alive = true;
  let finishing = false;
  let drawCharts = () => {};

  // Fixed slots, filled independently so a progress event never rebuilds the results table.
  const head = h("section", { class: "card run-head", id: "run-head" });
  const platformsCard = h("section", { class: "card", id: "platform-progress" });
  const reportSlot = h("div", { id: "report-slot" });
  const tbody = h("tbody", { id: "result-rows" });
  const resultsCount = h("span", { class: "muted", id: "results-count" });
  const resultsEmpty = h("p", { class: "empty", id: "results-empty" });
  const resultsCard = h("section", { class: "card", id: "results" });

  function platformName(id) {
    return state.status?.platforms?.find((p) => p.platform === id)?.display_name || id;
  }

  function renderHead() {
    const st = state.status;
    clear(head);
    head.append(h("a", { href: "#/", class: "back" }, t("back")));
    if (state.notFound || state.loadError) {
      head.append(h("p", { class: "empty" }, state.notFound ? t("notFound") : t("loadFailed", state.loadError)));
      return;
    }
    if (!st) {
      head.append(h("p", { class: "muted" }, t("connConnecting")));
      return;
    }
    const running = !st.is_completed;
    const cancel = running ? h("button", {
      type: "button", class: "btn danger", id: "cancel", disabled: state.cancelling,
      onclick: onCancel,
    }, state.cancelling ? t("cancelling") : t("cancel")) : null;
    const retry = st.is_completed && st.failed > 0 ? h("button", {
      type: "button", class: "btn ghost", id: "retry", onclick: onRetry,
    }, t("retry")) : null;
    head.append(...[
      h("div", { class: "run-title" },
        h("div", {},
          h("h1", { id: "run-brand" }, st.brand),
          h("div", { class: "meta" },
            h("span", { class: `badge st-${st.status}`, id: "run-status", "data-status": st.status },
              label("status", st.status)),
            h("span", { class: "muted" }, label("stage", st.stage)),
            h("span", { class: `conn conn-${state.conn}`, id: "conn" },
              h("i", {}), t({ live: "connLive", connecting: "connConnecting",
                reconnecting: "connReconnecting", closed: "connClosed" }[state.conn])),
            h("code", { class: "muted small" }, st.execution_id)),
          st.retry_of ? h("a", { class: "small", href: `#/run/${encodeURIComponent(st.retry_of)}` },
            t("retryOf")) : null),
        cancel || retry),
      h("div", { class: "progress-row" },
        h("span", { class: "progress-label" }, t("progress")),
        h("strong", { id: "progress-value" }, `${st.progress}%`)),
      h("div", {
        class: "progress", role: "progressbar", id: "overall-progress", "aria-valuemin": 0,
        "aria-valuemax": 100, "aria-valuenow": st.progress,
      }, h("i", { class: "ok", style: `width:${st.total ? (100 * st.completed) / st.total : 0}%` }),
      h("i", { class: "fail", style: `width:${st.total ? (100 * st.failed) / st.total : 0}%` })),
      h("p", { class: "muted small counts" }, t("tasksDone", st.completed, st.failed, st.total),
        st.started_at ? ` · ${formatTime(st.started_at, currentLang())}` : ""),
      st.error ? h("p", { class: "note" }, st.error) : null,
      state.actionError ? h("p", { class: "note", role: "alert" }, state.actionError) : null,
    ].filter(Boolean));
  }

  function renderPlatforms() {
    clear(platformsCard);
    const st = state.status;
    if (!st) return;
    platformsCard.append(h("h2", {}, t("perPlatform")));
    platformsCard.append(h("div", { class: "plat-list" }, st.platforms.map((p) => {
      const done = p.completed + p.failed;
      return h("div", { class: "plat", "data-platform": p.platform },
        h("div", { class: "plat-top" },
          h("strong", {}, p.display_name),
          h("span", { class: `badge br-${p.breaker}`, title: t("breaker") },
            `${t("breaker")}: ${label("breakerState", p.breaker)}`)),
        h("div", { class: "progress slim" },
          h("i", { class: "ok", style: `width:${p.total ? (100 * p.completed) / p.total : 0}%` }),
          h("i", { class: "fail", style: `width:${p.total ? (100 * p.failed) / p.total : 0}%` })),
        h("div", { class: "muted small" }, `${done} / ${p.total}`,
          p.failed ? h("span", { class: "fail-text" }, ` · ${p.failed} ✕`) : null));
    })));
  }

  function rowElement(row) {
    const question = row.subject && !row.question.includes(row.subject)
      ? `${row.question} (${row.subject})` : row.question;
    return h("tr", { "data-key": row.task_key, class: row.status === "ok" ? "" : "row-failed" },
      h("td", { "data-label": t("colPlatform") }, platformName(row.platform)),
      h("td", { "data-label": t("colQuestion"), class: "q" }, question),
      h("td", { "data-label": t("colStatus") }, statusBadge(row)),
      h("td", { "data-label": t("colMentions") }, mentionChips(row.mentions)),
      h("td", { "data-label": t("colLatency"), class: "n", title: t("attempts", row.attempts ?? 1) },
        formatMs(row.latency_ms)),
      h("td", { "data-label": t("colAnswer"), class: "preview" }, h("span", { class: "clamp" }, row.preview)));
  }

  function upsertRow(row) {
    if (!row || !row.task_key) return;
    rows.set(row.task_key, row);
    const el = rowElement(row);
    const old = rowEls.get(row.task_key);
    if (old) old.replaceWith(el);
    else tbody.prepend(el); // newest first
    rowEls.set(row.task_key, el);
    updateCount();
  }

  function updateCount() {
    resultsCount.textContent = t("resultsCount", rows.size);
    resultsEmpty.hidden = rows.size > 0;
  }

  function renderResultsCard() {
    clear(resultsCard);
    resultsEmpty.textContent = t("resultsEmpty");
    resultsCard.append(
      h("div", { class: "card-head row" }, h("h2", {}, t("results")), resultsCount),
      h("div", { class: "table-wrap" }, h("table", { class: "results" },
        h("thead", {}, h("tr", {},
          ["colPlatform", "colQuestion", "colStatus", "colMentions", "colLatency", "colAnswer"]
            .map((k) => h("th", {}, t(k))))),
        tbody)),
      resultsEmpty);
    // Rebuild the rows in their current order with the current language.
    const order = [...tbody.children].map((tr) => tr.dataset.key);
    clear(tbody);
    for (const key of order) {
      const el = rowElement(rows.get(key));
      rowEls.set(key, el);
      tbody.append(el);
    }
    updateCount();
  }

  function renderReportSlot() {
    clear(reportSlot);
    drawCharts = () => {};
    if (!state.status?.is_completed) return;
    if (state.reportError) {
      reportSlot.append(h("section", { class: "card" }, h("p", { class: "note" }, t("loadFailed", state.reportError))));
      return;
    }
    if (!state.report) {
      reportSlot.append(h("section", { class: "card" }, h("p", { class: "muted" }, t("reportLoading"))));
      return;
    }
    const view = renderReport(state.report, executionId);
    reportSlot.append(view.el);
    drawCharts = view.draw;
    drawCharts();
  }

  function render() {
    renderHead();
    renderPlatforms();
    renderReportSlot();
    renderResultsCard();
  }

  function applyStatus(status) {
    if (state.status && status.seq < state.status.seq) return; // never go back
    const wasDone = state.status?.is_completed;
    state.status = status;
    renderHead();
    renderPlatforms();
    if (status.is_completed && !wasDone) finish();
  }

  async function loadResults() {
    try {
      for (const result of await api.allResults(executionId)) {
        if (result.status !== "pending") upsertRow(rowFromResult(result));
      }
    } catch (exc) {
      if (exc.isAuth) showError(exc);
    }
  }

  async function finish() {
    if (finishing) return;
    finishing = true;
    // The stream itself ends after `complete`; the rows of the final flush may still be coming.
    renderReportSlot();
    await loadResults(); // rows a closed stream did not carry (e.g. cancelled tasks)
    try {
      state.report = await api.report(executionId);
    } catch (exc) {
      state.reportError = exc.message;
    }
    if (alive) renderReportSlot();
  }

  function closeSource() {
    if (source) source.close();
    source = null;
    clearTimeout(retryTimer);
  }

  function scheduleReconnect() {
    closeSource();
    if (!alive || state.status?.is_completed) return;
    state.conn = "reconnecting";
    renderHead();
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(RECONNECT_MAX_MS, retryDelay * 2);
  }

  async function connect() {
    if (!alive || state.status?.is_completed) return;
    let url;
    try {
      url = await api.eventsUrl(executionId);
    } catch (exc) {
      if (exc.isAuth) {
        showError(exc);
        state.conn = "closed";
        renderHead();
        return;
      }
      scheduleReconnect();
      return;
    }
    if (!alive) return;
    const es = new EventSource(url);
    source = es;
    es.addEventListener("open", () => {
      retryDelay = RECONNECT_MIN_MS;
      state.conn = "live";
      renderHead();
    });
    es.addEventListener("progress", (e) => applyStatus(JSON.parse(e.data)));
    es.addEventListener("task", (e) => upsertRow(rowFromTask(JSON.parse(e.data))));
    es.addEventListener("complete", (e) => {
      closeSource(); // the server ends the stream: do not let EventSource reconnect
      state.conn = "closed";
      applyStatus(JSON.parse(e.data));
      renderHead();
    });
    es.addEventListener("error", () => {
      if (source !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (expired stream token, restart): reconnect ourselves with a fresh token.
        scheduleReconnect();
      } else {
        state.conn = "reconnecting"; // the browser retries with Last-Event-ID
        renderHead();
      }
    });
  }

  async function onCancel() {
    state.cancelling = true;
    renderHead();
    try {
      applyStatus(await api.cancel(executionId));
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      try {
        applyStatus(await api.status(executionId));
      } catch { /* the stream will tell */ }
    }
    state.cancelling = false;
    renderHead();
  }

  async function onRetry() {
    try {
      const created = await api.retry(executionId);
      navigate(`#/run/${encodeURIComponent(created.execution_id)}`);
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      state.actionError = exc.message;
      renderHead();
    }
  }

  async function start() {
    try {
      state.status = await api.status(executionId);
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      if (exc.status === 404) state.notFound = true;
      else state.loadError = exc.message;
      state.conn = "closed";
      renderHead();
      return;
    }
    render();
    loadResults();
    if (state.status.is_completed) finish();
    else connect();
  }

  clear(root).append(h("div", { class: "run" }, head, platformsCard, reportSlot, resultsCard));
  render();
  start();
  return {
    render,
    resize: () => drawCharts(),
    destroy: () => {
      alive = false;
      closeSource();
    },
  };
}
