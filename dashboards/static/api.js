// Talking to the dashboard API: JSON tables, CSV links, errors as exceptions.

export class ApiError extends Error {
  constructor(status, detail, errors = []) {
    super(detail);
    this.status = status;
    this.errors = errors; // item-level reasons ({field, message}) of a refused form
  }
}

export function url(path, params = {}) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

export async function get(path, params = {}) {
  const response = await fetch(url(path, params), { credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "未登录");
  }
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText);
  return body;
}

export async function post(path, data = {}) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(data),
  });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body.detail || response.statusText, body.errors);
  return body;
}

export function csvUrl(path, params = {}) {
  return url(path, { ...params, format: "csv" });
}
