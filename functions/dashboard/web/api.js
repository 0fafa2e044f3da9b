// Calls to the service: same origin, relative to where this module is served from
// (`{base}/assets/api.<hash>.js` -> `{base}/`), so the page works behind an API Gateway stage
// (`/v1/`) and locally (`/`) alike. Every call carries the API key in the key field, else the
// one stored for this tab, if any.

const BASE = new URL("../", import.meta.url);
const KEY_STORAGE = "event-ingest.api-key";

/** The API key stored for this tab (sessionStorage only), or "". */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Store `key` for this tab ("" forgets it). */
export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives as long as the page
  }
  memoryKey = key;
}

let memoryKey = "";

/** Reads the page's key field: a key typed or pasted there is used by the next call. */
let typedKey = () => "";

/** Where the page's key field is read (`() => field.value.trim()`). */
export function useTypedKey(read) {
  typedKey = read;
}

/** The URL of `path` (no leading slash) with `query` (empty values left out). */
export function url(path, query = {}) {
  const target = new URL(path, BASE);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && String(value) !== "") {
      target.searchParams.set(name, String(value));
    }
  }
  return target;
}

/**
 * One call. Never throws: resolves to `{ ok, status, body, message }` where `body` is the
 * parsed JSON (or null) and `message` the sentence to show when `ok` is false: the error
 * body's `error.message`, never a raw object.
 */
export async function call(method, path, { query, body } = {}) {
  const headers = { accept: "application/json" };
  // what is in the field now wins over what "Use key" stored: a key pasted and sent at once
  // must not be answered 401 while it is visible in the field
  const key = typedKey() || apiKey() || memoryKey;
  if (key) headers["x-api-key"] = key;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body, cache: "no-store" });
  } catch (error) {
    return {
      ok: false,
      status: 0,
      body: null,
      message: `Could not reach the service (${error && error.message ? error.message : "network error"}).`,
    };
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  return {
    ok: response.ok,
    status: response.status,
    body: parsed,
    message: response.ok ? "" : errorMessage(response.status, parsed, text),
  };
}

/** The sentence for a failed call. */
export function errorMessage(status, body, text = "") {
  const error = body && typeof body === "object" ? body.error : null;
  if (error && typeof error === "object" && typeof error.message === "string" && error.message) {
    return error.message;
  }
  if (body && typeof body === "object") {
    // the local emulator's own errors: {"title": ..., "detail": ...}
    for (const name of ["message", "detail", "title"]) {
      if (typeof body[name] === "string" && body[name]) return body[name];
    }
  }
  if (status === 0) return "Could not reach the service.";
  if (text && text.length < 200 && !text.trim().startsWith("<")) return `HTTP ${status}: ${text.trim()}`;
  return `The service answered HTTP ${status}.`;
}

/** The error code of a failed call, if the body has one. */
export function errorCode(body) {
  const error = body && typeof body === "object" ? body.error : null;
  return error && typeof error.code === "string" ? error.code : "";
}
