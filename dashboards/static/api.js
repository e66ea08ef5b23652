// Talking to the dashboard API: JSON tables, CSV links, errors as exceptions.

export class ApiError extends Error {
  constructor(status, detail, errors = [], body = null) {
    super(detail);
    this.status = status;
    this.errors = errors; // item-level reasons ({field, message}) of a refused form
    this.body = body; // the answer's JSON, when it had one
  }
}

export function url(path, params = {}) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

// fetch(), with "no answer at all" (network down, server gone) as an ApiError (status 0).
export async function send(path, init = {}) {
  try {
    return await fetch(path, { credentials: "same-origin", ...init });
  } catch {
    throw new ApiError(0, "无法连接服务器，请检查网络后重试");
  }
}

// The JSON body of an answer, or an ApiError saying why not. The body is read as JSON only
// when it says it is: a plain-text 500 or a proxy's HTML 502 gives "服务器错误（HTTP 502）",
// not a JSON parse error.
export async function answer(response) {
  let body = null;
  if ((response.headers.get("content-type") || "").includes("json")) {
    try {
      body = await response.json();
    } catch {
      body = null;
    }
  }
  if (!response.ok) {
    const detail = typeof body?.detail === "string" && body.detail
      ? body.detail
      : `${response.status >= 500 ? "服务器错误" : "请求失败"}（HTTP ${response.status}）`;
    throw new ApiError(response.status, detail, Array.isArray(body?.errors) ? body.errors : [], body);
  }
  if (body === null) throw new ApiError(response.status, `服务器返回的不是 JSON（HTTP ${response.status}）`);
  return body;
}

// No session (expired, or the server restarted): to the login page.
function signedIn(response) {
  if (response.status === 401) {
    window.location.assign("/login");
    throw new ApiError(401, "未登录");
  }
  return response;
}

export async function get(path, params = {}) {
  return answer(signedIn(await send(url(path, params))));
}

export async function post(path, data = {}) {
  const response = await send(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(data),
  });
  return answer(signedIn(response));
}

export function csvUrl(path, params = {}) {
  return url(path, { ...params, format: "csv" });
}
