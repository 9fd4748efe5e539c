// The workspace API (docs/workspace-api.md) over fetch: bearer token, problem+json errors, one
// retry with a fresh token after a 401.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
    this.fieldErrors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

export function createApi(session) {
  async function send(method, path, body, { raw = false, idempotencyKey = null } = {}) {
    const attempt = async (token) => {
      const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
      if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
      const init = { method, headers, cache: "no-store", credentials: "omit" };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(path, init);
    };
    let response = await attempt(await session.token());
    if (response.status === 401) {
      const fresh = await session.requestToken("unauthorized");
      if (fresh) response = await attempt(fresh);
    }
    if (raw && response.ok) return response;
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = raw ? text : { detail: text.slice(0, 200) };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  return {
    get: (path) => send("GET", path),
    post: (path, body = {}, options = {}) => send("POST", path, body, options),
    patch: (path, body) => send("PATCH", path, body),
    del: (path) => send("DELETE", path),
    download: (path) => send("GET", path, undefined, { raw: true }),
  };
}

/** A new Idempotency-Key (docs/workspace-api.md): 128 random bits, in hex. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "embed-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** "?a=1&b=2" from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
