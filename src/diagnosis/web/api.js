// The HTTP API as the dashboard uses it: a Bearer token from sessionStorage on every request,
// and a short-lived signed query token for EventSource (which cannot send headers).

const TOKEN_KEY = "diagnosis.token";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
  }

  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  const token = (value || "").trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  const token = getToken();
  if (token) all.Authorization = `Bearer ${token}`;
  return all;
}

export async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, exc.message || "network error", null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText, data);
  return data;
}

export const api = {
  platforms: () => request("GET", "/api/platforms"),
  history: (page, limit) => request("GET", `/api/diagnoses?page=${page}&limit=${limit}`),
  create: (body) => request("POST", "/api/diagnoses", body),
  status: (id) => request("GET", `/api/diagnoses/${encodeURIComponent(id)}`),
  results: (id, offset, limit) =>
    request("GET", `/api/diagnoses/${encodeURIComponent(id)}/results?offset=${offset}&limit=${limit}`),
  cancel: (id) => request("POST", `/api/diagnoses/${encodeURIComponent(id)}/cancel`),
  retry: (id) => request("POST", `/api/diagnoses/${encodeURIComponent(id)}/retry`),
  report: (id) => request("GET", `/api/diagnoses/${encodeURIComponent(id)}/report`),

  /** The events URL, with a fresh signed access_token when the service has auth on. */
  async eventsUrl(id) {
    const base = `/api/diagnoses/${encodeURIComponent(id)}/events`;
    const grant = await request("POST", "/api/auth/stream-token");
    if (!grant || !grant.access_token) return base; // open service: no token needed
    return `${base}?access_token=${encodeURIComponent(grant.access_token)}`;
  },

  /** Every finished result of an execution, page by page. */
  async allResults(id) {
    const items = [];
    for (let offset = 0; ; offset += 500) {
      const page = await api.results(id, offset, 500);
      items.push(...page.items);
      if (items.length >= page.total || page.items.length === 0) return items;
    }
  },

  /** A report in another format, fetched with the Bearer header and saved or opened. */
  async download(id, format) {
    const response = await fetch(
      `/api/diagnoses/${encodeURIComponent(id)}/report?format=${format}`, { headers: headers() },
    );
    if (!response.ok) throw new ApiError(response.status, response.statusText, null);
    const url = URL.createObjectURL(await response.blob());
    if (format === "html") {
      window.open(url, "_blank", "noopener");
    } else {
      const link = document.createElement("a");
      link.href = url;
      link.download = `diagnosis-${id}.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  },
};
