// The dashboard: API key, event composer with in-browser normalization (event-core WASM),
// sending, processed and failed events (view, retry, retry all matching), aggregates with an
// hourly chart, and the tenant's usage.

import init, { normalize } from "./event_core.js";
import { apiKey, call, setApiKey, useTypedKey } from "./api.js";
import { renderHourly } from "./chart.js";
import { Composer } from "./compose.js";
import { fill, h, pretty, prettyRaw, shortTime } from "./dom.js";
import { PagedList, table } from "./lists.js";
import { setUpReplay } from "./replay.js";
import { showUsage } from "./usage.js";

const WASM_URL = new URL("./event_core_bg.wasm", import.meta.url);
const CLIENT_STORAGE = "event-ingest.client-id";
const HOUR = 3600 * 1000;

const $ = (id) => document.getElementById(id);

let wasmNormalize = null;
const composer = new Composer({ normalizer: () => wasmNormalize });

// ------------------------------------------------------------------ the WASM core
async function loadWasm() {
  try {
    // Accept names the binary type: API Gateway (REST) decodes the function's base64 body
    // only when the request's first Accept type is one of the API's binary media types.
    await init({ module_or_path: fetch(WASM_URL, { headers: { accept: "application/wasm" } }) });
    wasmNormalize = normalize;
    document.documentElement.dataset.wasm = "ready";
  } catch (error) {
    const status = $("wasm-status");
    status.hidden = false;
    status.className = "notice error";
    status.textContent = `The event-core WASM module did not load (${error && error.message ? error.message : error}); events are still checked by the server.`;
    document.documentElement.dataset.wasm = "failed";
  }
  composer.refresh();
}

// ------------------------------------------------------------------ API key
// Send, Show and Retry use the key in the field as it is; "Use key" also stores it.
useTypedKey(() => $("api-key").value.trim());

function showKeyStatus() {
  $("key-status").textContent = apiKey()
    ? "A key is stored for this tab only (sessionStorage) and sent as x-api-key."
    : "No key: requests are sent without one.";
}

$("usage-show").addEventListener("click", () => showUsage().then(checkUnauthorized));

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  showKeyStatus();
  processed.reset();
  failed.reset();
  showAggregates();
});
$("key-forget").addEventListener("click", () => {
  setApiKey("");
  $("api-key").value = "";
  showKeyStatus();
  $("api-key").focus();
});

/** After a 401, point at the key field. */
function checkUnauthorized(answer) {
  if (answer.status === 401) {
    $("key-status").textContent = answer.message;
    $("api-key").setAttribute("aria-invalid", "true");
  } else if (answer.ok) {
    $("api-key").removeAttribute("aria-invalid");
  }
}

// ------------------------------------------------------------------ sending
$("event-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const send = $("send");
  const result = $("send-result");
  const body = composer.body();
  const local = composer.normalizeNow();
  send.disabled = true;
  result.setAttribute("aria-busy", "true");
  fill(result, h("p", { class: "status loading" }, "Sending…"));
  const answer = await call("POST", "events", { body });
  checkUnauthorized(answer);
  send.disabled = false;
  result.removeAttribute("aria-busy");
  renderOutcome(result, answer, local, "send");
  const clientId = composer.clientId();
  if (clientId) {
    try {
      sessionStorage.setItem(CLIENT_STORAGE, clientId);
    } catch {
      // no storage: nothing to remember
    }
  }
  if (answer.status !== 0 && answer.status !== 401 && answer.status !== 400 && answer.status !== 413) {
    refreshAll();
  }
});

/** What the service said about one event (send or retry), with the two hashes side by side. */
function renderOutcome(container, answer, local, idPrefix) {
  const body = answer.body && typeof answer.body === "object" ? answer.body : {};
  const outcome = typeof body.status === "string" ? body.status : "";
  let headline;
  let tone = answer.ok ? "ok" : "error";
  let retryId = null;
  if (outcome === "processed") {
    headline = "Processed: stored and counted once.";
  } else if (outcome === "duplicate") {
    headline = "Duplicate: this event was already counted; nothing changed.";
  } else if (outcome === "failed" && body.retryable) {
    headline = `${answer.message} Kept as failed event ${body.failed_id}.`;
    tone = "warn";
    retryId = body.failed_id;
  } else if ((outcome === "failed" || outcome === "rejected") && body.failed_id) {
    headline = `${answer.message} Kept as rejected event ${body.failed_id} (not retryable).`;
  } else if (Array.isArray(body.results)) {
    headline = `Batch: ${body.processed ?? 0} processed, ${body.duplicates ?? 0} duplicates, ${body.failed ?? 0} failed.`;
  } else {
    headline = answer.message || `HTTP ${answer.status}`;
  }

  const localHash = local && local.ok ? local.event_hash : "";
  const serverHash = typeof body.event_hash === "string" ? body.event_hash : "";
  let mark;
  if (localHash && serverHash) {
    const same = localHash === serverHash;
    mark = h("p", { id: `${idPrefix}-match`, class: ["mark", same ? "match" : "mismatch"], "data-match": String(same) },
      same ? "✓ Match: the browser and the server computed the same event_hash." : "✗ Mismatch: the hashes differ.");
  } else {
    mark = h("p", { id: `${idPrefix}-match`, class: "mark none", "data-match": "none" },
      serverHash ? "No browser hash to compare (the WASM core is not available or found the event invalid)." : "No server hash: the event was not processed.");
  }

  fill(container,
    h("p", { class: ["headline", tone], id: `${idPrefix}-headline` },
      answer.status ? h("span", { class: "badge", id: `${idPrefix}-status` }, String(answer.status)) : null,
      " ",
      headline),
    h("dl", { class: "hashes" },
      h("div", {},
        h("dt", {}, "In the browser"),
        h("dd", {}, localHash ? h("code", { id: `${idPrefix}-local-hash` }, localHash)
          : h("span", { class: "muted" }, local ? (local.error && local.error.message) || "invalid" : "not available"))),
      h("div", {},
        h("dt", {}, "From the server"),
        h("dd", {}, serverHash ? h("code", { id: `${idPrefix}-server-hash` }, serverHash)
          : h("span", { class: "muted" }, "none")))),
    mark,
    retryId ? h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => retry(retryId, container) }, "Retry this event")) : null,
    h("details", {}, h("summary", {}, "Response body"), h("pre", { class: "json", tabindex: "0" }, answer.body ? pretty(answer.body) : "(empty)")));
  container.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ listings
const eventsFilter = () => ({
  client_id: $("e-client_id").value.trim(),
  limit: $("e-limit").value,
});

const processed = new PagedList($("processed-panel"), {
  load: async (cursor) => {
    const answer = await call("GET", "events/processed", { query: { ...eventsFilter(), cursor } });
    checkUnauthorized(answer);
    return answer;
  },
  emptyText: () => {
    const client = eventsFilter().client_id;
    return client ? `No processed events for ${client} yet.` : "No processed events yet.";
  },
  render: (items) => table([
    { title: "Timestamp", cell: (e) => shortTime(e.timestamp) },
    { title: "Client", cell: (e) => e.client_id },
    { title: "Metric", cell: (e) => e.metric },
    { title: "Amount", class: "num", cell: (e) => e.amount },
    { title: "Source", cell: (e) => e.source },
    { title: "event_hash", cell: (e) => h("code", { title: e.event_hash, class: "hash-short" }, `${String(e.event_hash).slice(0, 12)}…`) },
    { title: "event_id", cell: (e) => e.event_id || "" },
    { title: "Received", cell: (e) => shortTime(e.received_at) },
  ], items, (e) => ({ "data-hash": e.event_hash })),
});

const failed = new PagedList($("failed-panel"), {
  load: async (cursor) => {
    const answer = await call("GET", "events/failed", { query: { ...eventsFilter(), cursor } });
    checkUnauthorized(answer);
    return answer;
  },
  emptyText: () => {
    const client = eventsFilter().client_id;
    return client ? `No failed or rejected events for ${client}.` : "No failed or rejected events.";
  },
  render: (items) => table([
    { title: "Received", cell: (e) => shortTime(e.received_at) },
    { title: "Client", cell: (e) => e.client_id || h("span", { class: "muted" }, "none") },
    { title: "Reason", cell: (e) => [h("code", { class: "code" }, e.reason && e.reason.code), " ", (e.reason && e.reason.message) || ""] },
    { title: "Status", cell: (e) => h("span", { class: ["pill", e.status] }, e.status) },
    { title: "Attempts", class: "num", cell: (e) => String(e.attempts) },
    {
      title: "Actions",
      cell: (e) => h("span", { class: "row-actions" },
        h("button", { type: "button", class: "secondary", "data-action": "view", "aria-label": `View failed event ${e.failed_id}`, onclick: () => showFailed(e.failed_id) }, "View"),
        e.status === "failed"
          ? h("button", { type: "button", "data-action": "retry", "aria-label": `Retry failed event ${e.failed_id}`, onclick: () => retry(e.failed_id) }, "Retry")
          : null),
    },
  ], items, (e) => ({ "data-failed-id": e.failed_id, "data-status": e.status })),
});

$("events-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  processed.reset();
  failed.reset();
});

setUpReplay({
  button: $("replay-all"),
  container: $("replay-result"),
  clientId: () => eventsFilter().client_id,
  onAnswer: checkUnauthorized,
  onDone: () => refreshAll(),
});

// ------------------------------------------------------------------ one failed event
async function showFailed(id) {
  const detail = $("failed-detail");
  detail.hidden = false;
  detail.setAttribute("aria-busy", "true");
  fill(detail, h("p", { class: "status loading" }, "Loading…"));
  const answer = await call("GET", `events/failed/${encodeURIComponent(id)}`);
  checkUnauthorized(answer);
  detail.removeAttribute("aria-busy");
  if (!answer.ok) {
    fill(detail, h("p", { class: "status error" }, answer.message), closeButton());
    detail.focus();
    return;
  }
  const record = answer.body;
  const reason = record.reason || {};
  fill(detail,
    h("h4", { id: "failed-detail-title" }, "Failed event ", h("code", {}, record.failed_id)),
    h("dl", { class: "facts" },
      fact("Status", h("span", { class: ["pill", record.status], id: "detail-status" }, record.status)),
      fact("Client", record.client_id || "none"),
      fact("Reason", [h("code", { class: "code" }, reason.code), " ", reason.message || "", reason.field ? ` (${reason.field})` : ""]),
      fact("Received", shortTime(record.received_at)),
      fact("Attempts", String(record.attempts))),
    h("p", { class: "label", id: "failed-raw-label" }, "Raw body as received"),
    h("pre", { class: "json raw", id: "failed-raw", tabindex: "0", "aria-labelledby": "failed-raw-label" }, prettyRaw(record.raw)),
    h("div", { id: "retry-result", class: "result", "aria-live": "polite", tabindex: "-1" }),
    h("p", { class: "actions" },
      record.status === "failed"
        ? h("button", { type: "button", id: "detail-retry", onclick: () => retry(record.failed_id, $("retry-result"), record) }, "Retry")
        : null,
      closeButton()));
  detail.focus();
}

function closeButton() {
  return h("button", {
    type: "button",
    class: "secondary",
    onclick: () => {
      $("failed-detail").hidden = true;
      $("failed-title").focus();
    },
  }, "Close");
}

function fact(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}

/** Retry a failed event; the answer goes to `container` (the detail panel by default). */
async function retry(id, container, record) {
  let target = container;
  if (!target) {
    const detail = $("failed-detail");
    detail.hidden = false;
    fill(detail, h("h4", { id: "failed-detail-title" }, "Retry of ", h("code", {}, id)), h("div", { id: "retry-result", class: "result", "aria-live": "polite", tabindex: "-1" }), h("p", { class: "actions" }, closeButton()));
    target = $("retry-result");
  }
  target.setAttribute("aria-busy", "true");
  fill(target, h("p", { class: "status loading" }, "Retrying…"));
  // The browser's hash of the kept body, checked at the time it was received.
  let local = null;
  if (record && wasmNormalize) {
    try {
      local = wasmNormalize(record.raw, Date.parse(record.received_at));
    } catch {
      local = null;
    }
  }
  const answer = await call("POST", `events/failed/${encodeURIComponent(id)}/retry`);
  checkUnauthorized(answer);
  target.removeAttribute("aria-busy");
  renderOutcome(target, answer, local, "retry");
  if (answer.ok && record) {
    // the record is retried now: no second retry from this panel
    $("detail-retry")?.remove();
    const pill = $("detail-status");
    if (pill) {
      pill.textContent = "retried";
      pill.className = "pill retried";
    }
  }
  refreshAll();
}

// ------------------------------------------------------------------ aggregates
function hourInput(time) {
  return new Date(time).toISOString().slice(0, 16);
}

/** A datetime-local value read as UTC. */
function utc(value) {
  if (!value) return "";
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

let aggregatesShown = false;
let lastHourly = null;

async function showAggregates() {
  const status = $("agg-status");
  const client = $("a-client_id").value.trim();
  if (!client) {
    status.textContent = "client_id is required.";
    status.className = "status error";
    $("a-client_id").setAttribute("aria-invalid", "true");
    $("a-client_id").focus();
    return;
  }
  $("a-client_id").removeAttribute("aria-invalid");
  const query = {
    client_id: client,
    metric: $("a-metric").value.trim(),
    from: utc($("a-from").value),
    to: utc($("a-to").value),
  };
  aggregatesShown = true;
  const section = $("aggregates");
  section.setAttribute("aria-busy", "true");
  status.textContent = "Loading…";
  status.className = "status loading";
  const [totals, hourly] = await Promise.all([
    call("GET", "aggregates", { query }),
    call("GET", "aggregates/hourly", { query }),
  ]);
  checkUnauthorized(totals);
  section.removeAttribute("aria-busy");
  const problems = [];
  if (totals.ok) {
    $("agg-totals").hidden = false;
    $("agg-count").textContent = String(totals.body.count);
    $("agg-total").textContent = totals.body.total_amount;
  } else {
    $("agg-totals").hidden = true;
    problems.push(totals.message);
  }
  const chart = $("chart");
  if (hourly.ok) {
    chart.hidden = false;
    lastHourly = hourly.body;
    $("chart-caption").textContent = caption(hourly.body);
    renderHourly($("chart-body"), hourly.body);
  } else {
    lastHourly = null;
    chart.hidden = false;
    $("chart-caption").textContent = "Hourly chart";
    fill($("chart-body"), h("p", { class: "status error", id: "chart-error" }, hourly.message));
  }
  if (problems.length === 0) {
    status.textContent = totals.body.count === 0 ? `No events for ${client} in this range yet.` : "";
    status.className = "status";
  } else {
    status.textContent = problems.join(" ");
    status.className = "status error";
  }
}

function caption(data) {
  const metric = data.metric ? `, metric ${data.metric}` : ", every metric";
  return `${data.client_id}${metric}: per hour from ${shortTime(data.from)} to ${shortTime(data.to)} UTC`;
}

$("agg-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showAggregates();
});

let resizeTimer = 0;
let lastWidth = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const width = $("chart-body").clientWidth;
    if (lastHourly && Math.abs(width - lastWidth) > 16) {
      lastWidth = width;
      renderHourly($("chart-body"), lastHourly);
    }
  }, 150);
});

// ------------------------------------------------------------------ start
function refreshAll() {
  processed.reset();
  failed.reset();
  if (aggregatesShown) showAggregates();
}

function start() {
  let client = "";
  try {
    client = sessionStorage.getItem(CLIENT_STORAGE) || "";
  } catch {
    client = "";
  }
  client = client || "acme-prod";
  composer.start(client);
  $("e-client_id").value = client;
  $("a-client_id").value = client;
  const hour = Math.floor(Date.now() / HOUR) * HOUR;
  $("a-from").value = hourInput(hour - 23 * HOUR);
  $("a-to").value = hourInput(hour + HOUR);
  showKeyStatus();
  if (apiKey()) {
    processed.reset();
    failed.reset();
    showAggregates();
  } else {
    // nothing to show without a key where keys are required: ask for one instead of 401s
    for (const id of ["processed-panel", "failed-panel"]) {
      $(id).querySelector("[data-role=status]").textContent = "Enter your API key above to see events (or press Show where keys are off).";
    }
    $("agg-status").textContent = "Enter your API key above, then Show.";
  }
  loadWasm();
}

start();
