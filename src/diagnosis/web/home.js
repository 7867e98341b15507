// The home view: the form that starts a diagnosis, and the history list.

import { api } from "./api.js";
import { clear, formatTime, h } from "./dom.js";
import { currentLang, label, t } from "./i18n.js";

const HISTORY_LIMIT = 10;
// What the user typed survives a language switch or a visit to a run.
const draft = { brand: "", aliases: "", competitors: "", questions: "", samples: "1", deadline: "", picked: null };

function splitList(text) {
  return text.split(/[,，、]/).map((v) => v.trim()).filter(Boolean);
}

function parseCompetitors(text) {
  return text.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const match = line.match(/^([^:：]+)[:：](.*)$/);
    if (!match) return line;
    const aliases = splitList(match[2]);
    return aliases.length ? { name: match[1].trim(), aliases } : match[1].trim();
  });
}

function lines(text) {
  return text.split("\n").map((v) => v.trim()).filter(Boolean);
}

function estimate() {
  const brands = 1 + parseCompetitors(draft.competitors).length;
  const questions = lines(draft.questions);
  const perSet = questions.length
    ? questions.reduce((n, q) => n + (q.includes("{brand}") ? brands : 1), 0)
    : 3 * brands; // the default set: three templated questions
  const platforms = draft.picked ? draft.picked.size : 0;
  return perSet * platforms * Math.max(1, Number(draft.samples) || 1);
}

function field(id, key, control, hint) {
  return h("div", { class: "field" },
    h("label", { for: id }, t(key)), control, hint ? h("small", { class: "hint" }, hint) : null);
}

function platformChoices(platforms, onChange) {
  if (!draft.picked) {
    // Preselect only when there is no choice to make; a keyless platform may not be running.
    const usable = platforms.filter((p) => p.configured);
    draft.picked = new Set(usable.length === 1 ? [usable[0].id] : []);
  }
  return h("div", { class: "platforms", id: "platforms" }, platforms.map((p) => {
    const reason = p.reason ? (p.reason.match(/^set (\S+)$/) ? t("needsKey", p.reason.slice(4)) : p.reason) : t("notConfigured");
    const box = h("input", {
      type: "checkbox", name: "platform", value: p.id, checked: p.configured && draft.picked.has(p.id),
      disabled: !p.configured,
      onchange: (e) => {
        if (e.target.checked) draft.picked.add(p.id);
        else draft.picked.delete(p.id);
        onChange();
      },
    });
    return h("label", { class: p.configured ? "chip-check" : "chip-check disabled", title: p.model || "" },
      box,
      h("span", { class: "chip-name" }, p.display_name),
      p.configured ? null : h("span", { class: "chip-reason" }, reason));
  }));
}

function diagnosisForm(platforms, onStarted, showError) {
  const est = h("span", { class: "estimate", id: "estimate" });
  const update = () => { est.textContent = t("estimate", estimate()); };
  const bind = (key) => (e) => { draft[key] = e.target.value; update(); };
  const error = h("div", { class: "form-error", id: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn primary big", id: "start" }, t("start"));

  const form = h("form", { class: "card form", id: "new-diagnosis", novalidate: true },
    h("div", { class: "card-head" }, h("h2", {}, t("formTitle")), h("p", { class: "muted" }, t("formIntro"))),
    h("div", { class: "grid-2" },
      field("brand", "brand", h("input", { id: "brand", name: "brand", required: true, maxlength: 100,
        value: draft.brand, placeholder: t("brandPlaceholder"), oninput: bind("brand") })),
      field("aliases", "aliases", h("input", { id: "aliases", name: "aliases", value: draft.aliases,
        oninput: bind("aliases") }), t("aliasesHint"))),
    field("competitors", "competitors", h("textarea", { id: "competitors", name: "competitors", rows: 3,
      oninput: bind("competitors") }, draft.competitors), t("competitorsHint")),
    field("questions", "questions", h("textarea", { id: "questions", name: "questions", rows: 4,
      oninput: bind("questions") }, draft.questions), t("questionsHint")),
    h("fieldset", { class: "field" }, h("legend", {}, t("platforms")),
      platforms ? platformChoices(platforms, update) : h("p", { class: "muted" }, t("platformsLoading"))),
    h("div", { class: "grid-2" },
      field("samples", "samples", h("input", { id: "samples", name: "samples", type: "number", min: 1, max: 10,
        value: draft.samples, oninput: bind("samples") }), t("samplesHint")),
      field("deadline", "deadline", h("input", { id: "deadline", name: "deadline", type: "number", min: 1,
        max: 3600, value: draft.deadline, oninput: bind("deadline") }), t("deadlineHint"))),
    error,
    h("div", { class: "actions" }, est, submit));
  update();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const chosen = [...(draft.picked || [])];
    if (!draft.brand.trim()) {
      error.textContent = `${t("brand")}: ${currentLang() === "zh" ? "必填" : "required"}`;
      error.hidden = false;
      return;
    }
    if (!chosen.length) {
      error.textContent = t("pickPlatform");
      error.hidden = false;
      return;
    }
    const body = {
      brand: draft.brand.trim(),
      aliases: splitList(draft.aliases),
      competitors: parseCompetitors(draft.competitors),
      questions: lines(draft.questions),
      platforms: chosen,
      samples: Math.min(10, Math.max(1, Number(draft.samples) || 1)),
    };
    if (draft.deadline) body.deadline_s = Number(draft.deadline);
    submit.disabled = true;
    submit.textContent = t("starting");
    try {
      const created = await api.create(body);
      onStarted(created.execution_id);
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      error.textContent = exc.message;
      error.hidden = false;
      submit.disabled = false;
      submit.textContent = t("start");
    }
  });
  return form;
}

function historyCard(state, reload) {
  const body = h("div", { class: "history-list", id: "history" });
  const card = h("section", { class: "card history" },
    h("div", { class: "card-head row" }, h("h2", {}, t("historyTitle")),
      h("button", { type: "button", class: "btn ghost small", onclick: () => reload(state.page) }, t("refresh"))),
    body);
  if (state.error) {
    body.append(h("p", { class: "muted" }, t("loadFailed", state.error)));
    return card;
  }
  if (!state.items) return card;
  if (!state.items.length) {
    body.append(h("p", { class: "empty" }, t("historyEmpty")));
    return card;
  }
  for (const item of state.items) {
    body.append(h("a", { class: "history-item", href: `#/run/${encodeURIComponent(item.execution_id)}`,
      "data-id": item.execution_id },
    h("div", { class: "hi-main" },
      h("strong", {}, item.brand),
      item.competitors.length ? h("span", { class: "muted" }, ` vs ${item.competitors.join(" · ")}`) : null),
    h("div", { class: "hi-meta" },
      h("span", { class: `badge st-${item.status}` }, label("status", item.status)),
      h("span", { class: "mini-bar" }, h("i", { style: `width:${Math.min(100, item.progress)}%` })),
      h("span", { class: "muted" }, `${item.progress}%`),
      h("span", { class: "muted" }, formatTime(item.created_at, currentLang())))));
  }
  const pages = Math.max(1, Math.ceil(state.total / HISTORY_LIMIT));
  if (pages > 1) {
    body.append(h("div", { class: "pager" },
      h("button", { type: "button", class: "btn ghost small", disabled: state.page <= 1,
        onclick: () => reload(state.page - 1) }, t("prev")),
      h("span", { class: "muted" }, t("pageOf", state.page, pages)),
      h("button", { type: "button", class: "btn ghost small", disabled: state.page >= pages,
        onclick: () => reload(state.page + 1) }, t("next"))));
  }
  return card;
}

/** Mount the home view into `root`; returns a function that re-renders it (language switch). */
export function mountHome(root, { navigate, showError }) {
  const state = { platforms: null, history: { page: 1, items: null, total: 0, error: null } };
  let alive = true;

  const formSlot = h("div", { class: "slot-form" });
  const historySlot = h("div", { class: "slot-history" });
  clear(root).append(h("div", { class: "home" }, formSlot, historySlot));
  const renderForm = () => {
    if (alive) clear(formSlot).append(
      diagnosisForm(state.platforms, (id) => navigate(`#/run/${encodeURIComponent(id)}`), showError));
  };
  const renderHistory = () => {
    if (alive) clear(historySlot).append(historyCard(state.history, loadHistory));
  };
  const render = () => { renderForm(); renderHistory(); };

  async function loadHistory(page) {
    try {
      const data = await api.history(page, HISTORY_LIMIT);
      state.history = { page, items: data.items, total: data.total, error: null };
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      state.history = { ...state.history, error: exc.message };
    }
    renderHistory();
  }

  async function loadPlatforms() {
    try {
      state.platforms = await api.platforms();
    } catch (exc) {
      if (exc.isAuth) showError(exc);
      state.platforms = [];
    }
    renderForm();
  }

  render();
  loadPlatforms();
  loadHistory(1);
  return { render, destroy: () => { alive = false; } };
}
