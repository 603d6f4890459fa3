// The one way the app talks to the server: the REST API under /api, JSON in and out.
// Signed in with a password, the session cookie authenticates and every state-changing
// request carries the CSRF token; signed in with an API key, the key is the Bearer token.

const KEY_STORAGE = "convoflow.api_key";
const credentials = { csrf: null, key: sessionStorage.getItem(KEY_STORAGE) };
let onUnauthenticated = () => {};

/** An error answer of the API: status, code, message and the per-field details. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || "error";
    this.details = Array.isArray(error.details) ? error.details : [];
  }

  /** The message of the detail about `field` (exact), if any. */
  about(field) {
    const found = this.details.find((detail) => detail.field === field);
    return found ? found.message : null;
  }
}

export function setCsrfToken(token) { credentials.csrf = token || null; }
export function setApiKey(key) {
  credentials.key = key || null;
  if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
}
export function usingApiKey() { return Boolean(credentials.key); }
/** Called when a request answers 401 outside the sign-in endpoints. */
export function whenUnauthenticated(handler) { onUnauthenticated = handler; }

function headersFor(method, hasBody) {
  const headers = { Accept: "application/json" };
  if (hasBody) headers["Content-Type"] = "application/json";
  if (credentials.key) headers.Authorization = `Bearer ${credentials.key}`;
  else if (credentials.csrf && method !== "GET") headers["X-CSRF-Token"] = credentials.csrf;
  return headers;
}

/** Send a request; resolve with the parsed body (null for 204), reject with ApiError. */
export async function request(method, path, body, { quiet401 = false, raw = false } = {}) {
  const hasBody = body !== undefined;
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: headersFor(method, hasBody),
    body: hasBody ? JSON.stringify(body) : undefined,
  });
  if (raw && response.ok) return response;
  const text = await response.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = { error: { message: text.slice(0, 200) } }; }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && !quiet401) onUnauthenticated(error);
    throw error;
  }
  return parsed;
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body === undefined ? {} : body, options);
export const put = (path, body, options) => request("PUT", path, body, options);
export const patch = (path, body, options) => request("PATCH", path, body, options);
export const del = (path, options) => request("DELETE", path, undefined, options);

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** True when the API answered that the endpoint does not exist on this server. */
export function missingEndpoint(error) {
  // Starlette's own words for an unknown route; a missing object has a sentence of ours.
  return error instanceof ApiError
    && ((error.status === 404 && error.message === "Not Found")
      || (error.status === 405 && error.message === "Method Not Allowed"));
}
