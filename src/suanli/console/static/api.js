// The console's only way to the server: the JSON API, with the signed-in token.
// Errors come back as ApiError carrying the API's own message (what was wrong, what is allowed).

const TOKEN_KEY = "suanli.token";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function newKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function call(method, path, { body, query, idempotent = false, auth } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { Accept: "application/json" };
  const bearer = auth === undefined ? token() : auth;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (idempotent) headers["Idempotency-Key"] = newKey();
  let res;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "unreachable", `cannot reach the suanli server at ${location.origin} (${e.message})`);
  }
  const text = await res.text();
  let doc = null;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = null;
  }
  if (!res.ok) {
    const err = doc && doc.error;
    throw new ApiError(res.status, err ? err.code : "http_error",
      err ? err.message : `${method} ${url.pathname} answered ${res.status}`, err ? err.details : {});
  }
  return doc;
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body, opts = {}) => call("POST", path, { body, ...opts });

/** Every item of a paged list (bounded: at most `max` items). */
export async function all(path, query = {}, max = 5000) {
  const items = [];
  let offset = 0;
  while (offset !== null && items.length < max) {
    const page = await get(path, { ...query, offset, limit: 500 });
    items.push(...page.items);
    offset = page.next_offset;
  }
  return items;
}

/**
 * Fetch a file from the API with the token and hand it to the browser as a download.
 *
 * Export endpoints (an invoice as HTML, CSV or JSON) need the Authorization header, which a plain
 * link cannot send; so the console fetches the bytes and saves them through a `blob:` URL of this
 * origin (a download is not a fetch or a frame, so `default-src 'self'` does not block it). The URL
 * is revoked once the browser has taken the file.
 */
export async function download(path, filename, query) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: `Bearer ${token()}` } });
  } catch (e) {
    throw new ApiError(0, "unreachable", `cannot reach the suanli server at ${location.origin} (${e.message})`);
  }
  if (!res.ok) {
    let doc = null;
    try {
      doc = await res.json();
    } catch {
      doc = null;
    }
    const err = doc && doc.error;
    throw new ApiError(res.status, err ? err.code : "http_error",
      err ? err.message : `GET ${url.pathname} answered ${res.status}`, err ? err.details : {});
  }
  saveBlob(await res.blob(), filename);
}

/** Save a Blob (or text) as a file named `filename`. */
export function saveBlob(blob, filename, type = "application/octet-stream") {
  const data = blob instanceof Blob ? blob : new Blob([blob], { type });
  const href = URL.createObjectURL(data);
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
