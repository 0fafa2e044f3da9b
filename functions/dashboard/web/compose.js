// The event composer: the fields and the JSON body stay in sync (either can be edited; the
// body is what is sent), and every keystroke runs the event-core WASM `normalize` on the body,
// showing the normalized event and its event_hash, or the rule it breaks.

import { h, fill, pretty } from "./dom.js";

/** Fields of the form: input id -> where the value lives in the event. */
const FIELDS = [
  { id: "f-client_id", path: ["client_id"] },
  { id: "f-source", path: ["source"] },
  { id: "f-metric", path: ["payload", "metric"] },
  { id: "f-amount", path: ["payload", "amount"] },
  { id: "f-timestamp", path: ["payload", "timestamp"] },
  { id: "f-event_id", path: ["event_id"] },
];
const SIMULATE = "f-simulate";

/** Error codes without a field, and the field they concern. */
const CODE_FIELDS = {
  missing_client_id: "client_id",
  invalid_client_id: "client_id",
  missing_timestamp: "payload.timestamp",
  timestamp_in_future: "payload.timestamp",
};

/** Now as RFC 3339 UTC to the second. */
export function nowTimestamp() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class Composer {
  /**
   * @param {object} options
   * @param {() => ((body: string, nowMs: number) => any) | null} options.normalizer
   *   the WASM `normalize`, or null while it loads or when it failed to load
   */
  constructor({ normalizer }) {
    this.normalizer = normalizer;
    this.form = document.getElementById("event-form");
    this.raw = document.getElementById("raw");
    this.rawStatus = document.getElementById("raw-status");
    this.preview = document.getElementById("preview");
    // The last body that parsed as an object: field edits keep its other keys.
    this.base = {};
    for (const field of FIELDS) {
      document.getElementById(field.id).addEventListener("input", () => this.fromFields());
    }
    document.getElementById(SIMULATE).addEventListener("change", () => this.fromFields());
    document.getElementById("f-now").addEventListener("click", () => {
      const input = document.getElementById("f-timestamp");
      input.value = nowTimestamp();
      this.fromFields();
      input.focus();
    });
    this.raw.addEventListener("input", () => this.fromBody());
  }

  /** Start with an example event of `clientId`. */
  start(clientId) {
    const values = {
      "f-client_id": clientId,
      "f-source": "dashboard",
      "f-metric": "purchase",
      "f-amount": "12.50",
      "f-timestamp": nowTimestamp(),
      "f-event_id": "",
    };
    for (const [id, value] of Object.entries(values)) document.getElementById(id).value = value;
    this.fromFields();
  }

  /** The body to send. */
  body() {
    return this.raw.value;
  }

  /** The client id of the body, if it has a usable one. */
  clientId() {
    try {
      const value = JSON.parse(this.raw.value);
      return value && typeof value.client_id === "string" ? value.client_id.trim() : "";
    } catch {
      return "";
    }
  }

  /** Fields -> body. */
  fromFields() {
    const event = structuredClone(this.base);
    for (const field of FIELDS) {
      const text = document.getElementById(field.id).value;
      const previous = getPath(event, field.path);
      // unchanged text keeps its JSON type (an amount sent as a number stays a number)
      const unchanged = previous !== undefined && previous !== null && typeof previous !== "object" && String(previous) === text;
      if (!unchanged) setPath(event, field.path, fieldValue(field.path, text));
    }
    if (document.getElementById(SIMULATE).checked) event.simulateFailure = true;
    else delete event.simulateFailure;
    if (event.payload && typeof event.payload === "object" && Object.keys(event.payload).length === 0) {
      delete event.payload;
    }
    this.base = event;
    this.raw.value = JSON.stringify(orderKeys(event), null, 2);
    this.rawStatus.textContent = "";
    this.raw.removeAttribute("aria-invalid");
    this.refresh();
  }

  /** Body -> fields (when the body is a JSON object). */
  fromBody() {
    let value;
    try {
      value = JSON.parse(this.raw.value);
    } catch (error) {
      this.rawStatus.textContent = `Not JSON yet: ${error.message}. The fields keep their last values.`;
      this.raw.setAttribute("aria-invalid", "true");
      this.refresh();
      return;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      this.rawStatus.textContent = "The body must be a JSON object to fill the fields.";
      this.raw.setAttribute("aria-invalid", "true");
      this.refresh();
      return;
    }
    this.raw.removeAttribute("aria-invalid");
    this.rawStatus.textContent = "";
    this.base = value;
    for (const field of FIELDS) {
      const current = getPath(value, field.path);
      document.getElementById(field.id).value =
        current === undefined || current === null ? "" : typeof current === "object" ? JSON.stringify(current) : String(current);
    }
    document.getElementById(SIMULATE).checked = value.simulateFailure === true;
    this.refresh();
  }

  /** Normalize the body now; returns the WASM result (or null when WASM is unavailable). */
  normalizeNow() {
    const normalize = this.normalizer();
    if (!normalize) return null;
    try {
      return normalize(this.raw.value, Date.now());
    } catch (error) {
      return { ok: false, error: { code: "wasm_error", message: `The WASM core failed: ${error.message || error}` } };
    }
  }

  /** Redraw the preview from the body. */
  refresh() {
    for (const input of this.form.querySelectorAll("[data-field]")) {
      input.removeAttribute("aria-invalid");
    }
    const result = this.normalizeNow();
    if (!result) {
      const failed = document.documentElement.dataset.wasm === "failed";
      fill(this.preview, h("p", { class: "muted" }, failed
        ? "Normalization in the browser is not available (see above); the server still checks every event."
        : "Loading the WASM core…"));
      return;
    }
    if (result.ok) {
      fill(
        this.preview,
        h("dl", { class: "hash" },
          h("dt", {}, "event_hash"),
          h("dd", {}, h("code", { id: "local-hash" }, result.event_hash))),
        h("pre", { id: "local-event", class: "json", tabindex: "0", "aria-label": "Normalized event" }, pretty(result.event)),
      );
      return;
    }
    const error = result.error || {};
    if (error.code === "batch_not_supported") {
      fill(this.preview, h("p", { class: "muted", id: "local-error" },
        "A batch: the server answers for each event in turn; this preview covers one event at a time."));
      return;
    }
    const field = error.field || CODE_FIELDS[error.code] || "";
    const input = field ? this.form.querySelector(`[data-field="${cssEscape(field)}"]`) : null;
    if (input) input.setAttribute("aria-invalid", "true");
    fill(
      this.preview,
      h("p", { class: "invalid", id: "local-error" },
        h("strong", {}, "Would be rejected: "),
        error.message || "invalid event",
        " ",
        h("code", { class: "code" }, error.code || ""),
        field ? h("span", { class: "muted" }, ` (${field})`) : null),
    );
  }
}

/** The JSON value a field's text stands for ("" = leave the key out). */
function fieldValue(path, text) {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (path[1] === "timestamp" && /^-?\d+$/.test(trimmed)) return Number(trimmed);
  // amounts stay strings: exact decimals, never through a float
  return text;
}

function getPath(object, path) {
  let current = object;
  for (const key of path) {
    if (!current || typeof current !== "object") return undefined;
    current = current[key];
  }
  return current;
}

function setPath(object, path, value) {
  let current = object;
  for (const key of path.slice(0, -1)) {
    if (!current[key] || typeof current[key] !== "object" || Array.isArray(current[key])) {
      if (value === undefined) return;
      current[key] = {};
    }
    current = current[key];
  }
  const last = path[path.length - 1];
  if (value === undefined) delete current[last];
  else current[last] = value;
}

/** The contract's order first (client_id, source, payload, event_id, simulateFailure), then the rest. */
function orderKeys(event) {
  const order = ["client_id", "source", "payload", "event_id", "simulateFailure"];
  const out = {};
  for (const key of order) if (key in event) out[key] = event[key];
  for (const key of Object.keys(event)) if (!(key in out)) out[key] = event[key];
  if (out.payload && typeof out.payload === "object" && !Array.isArray(out.payload)) {
    const payload = {};
    for (const key of ["metric", "amount", "timestamp"]) if (key in out.payload) payload[key] = out.payload[key];
    for (const key of Object.keys(out.payload)) if (!(key in payload)) payload[key] = out.payload[key];
    out.payload = payload;
  }
  return out;
}

function cssEscape(text) {
  return window.CSS && CSS.escape ? CSS.escape(text) : text.replace(/["\\]/g, "\\$&");
}
