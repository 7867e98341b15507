// The dashboard's entry: hash routing (#/, #/run/<id>, #/monitors, #/monitor/<id>: a reload
// reopens the view), the language switch, the token panel and the auth banner.

import { getToken, setToken } from "./api.js";
import { mountHome } from "./home.js";
import { mountMonitor, mountMonitors } from "./monitors.js";
import { applyStatic, currentLang, setLang, t } from "./i18n.js";
import { mountRun } from "./run.js";

const view = document.getElementById("view");
const banner = document.getElementById("banner");
const tokenPanel = document.getElementById("token-panel");
const tokenToggle = document.getElementById("token-toggle");
const tokenInput = document.getElementById("token-input");
let current = null;
let bannerKey = null;

function showBanner(key) {
  bannerKey = key;
  banner.textContent = key ? t(key) : "";
  banner.hidden = !key;
}

function showError(exc) {
  if (exc && exc.isAuth) {
    showBanner("authError");
    openTokenPanel(true);
  }
}

function openTokenPanel(open) {
  tokenPanel.hidden = !open;
  tokenToggle.setAttribute("aria-expanded", String(open));
  if (open) tokenInput.value = getToken();
}

function refreshTokenDot() {
  document.getElementById("token-dot").classList.toggle("on", Boolean(getToken()));
}

function route() {
  if (current) current.destroy();
  showBanner(null);
  const match = location.hash.match(/^#\/run\/([^/?#]+)/);
  const ctx = { navigate: (hash) => { location.hash = hash; }, showError };
  const monitor = location.hash.match(/^#\/monitor\/([^/?#]+)/);
  if (match) current = mountRun(view, decodeURIComponent(match[1]), ctx);
  else if (monitor) current = mountMonitor(view, decodeURIComponent(monitor[1]), ctx);
  else if (location.hash.startsWith("#/monitors")) current = mountMonitors(view, ctx);
  else current = mountHome(view, ctx);
  window.scrollTo(0, 0);
}

function switchLang(lang) {
  setLang(lang);
  for (const btn of document.querySelectorAll(".lang-btn")) {
    btn.classList.toggle("active", btn.dataset.lang === currentLang());
    btn.setAttribute("aria-pressed", String(btn.dataset.lang === currentLang()));
  }
  applyStatic();
  if (bannerKey) banner.textContent = t(bannerKey);
  if (current) current.render();
}

for (const btn of document.querySelectorAll(".lang-btn")) {
  btn.addEventListener("click", () => switchLang(btn.dataset.lang));
}
tokenToggle.addEventListener("click", () => openTokenPanel(tokenPanel.hidden));
tokenPanel.addEventListener("submit", (event) => {
  event.preventDefault();
  setToken(tokenInput.value);
  refreshTokenDot();
  openTokenPanel(false);
  route(); // reload the view with the new credentials
});
document.getElementById("token-clear").addEventListener("click", () => {
  setToken("");
  tokenInput.value = "";
  refreshTokenDot();
});

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => current?.resize?.(), 150);
});
window.addEventListener("hashchange", route);

switchLang(currentLang());
refreshTokenDot();
route();
