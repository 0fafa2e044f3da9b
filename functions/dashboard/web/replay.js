// "Retry all matching": the bulk replay (POST /events/failed/retry) of the failed events the
// events filter selects (its client, or every client), page after page until the service hands
// back no cursor, then how many matched and what became of each one.

import { call } from "./api.js";
import { fill, h } from "./dom.js";
import { table } from "./lists.js";

/** The statuses of a replayed record, in the order the summary names them. */
const STATUSES = ["processed", "duplicate", "failed", "skipped", "unavailable"];
/** A bound on one run (100 records a page): a runaway loop must end. */
const MAX_PAGES = 500;
/** Rows shown in the outcome table; the counts always cover every record. */
const MAX_ROWS = 500;

/**
 * Replay every failed event of `clientId` ("" = every client), calling `onProgress(results)`
 * after each page. Resolves to `{ results, error }`: `error` is the failed call, if one stopped it.
 */
export async function replayAll(clientId, onProgress) {
  const results = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const selection = { limit: 100 };
    if (clientId) selection.client_id = clientId;
    if (cursor) selection.cursor = cursor;
    const answer = await call("POST", "events/failed/retry", { body: JSON.stringify(selection) });
    if (!answer.ok) return { results, error: answer };
    const pageResults = Array.isArray(answer.body && answer.body.results) ? answer.body.results : [];
    results.push(...pageResults);
    onProgress(results);
    cursor = answer.body.next_cursor || null;
    if (!cursor) return { results, error: null };
    // The cursor resumes at records still in flight at the service's deadline: a page of only
    // those means storage is struggling now; stop rather than loop on them.
    if (pageResults.length > 0 && pageResults.every((r) => r.status === "unavailable")) {
      return { results, error: { message: "Storage is unavailable right now; try again shortly (replays are safe to repeat)." } };
    }
  }
  return { results, error: { message: `Stopped after ${MAX_PAGES} pages; press again to go on.` } };
}

/** `{ processed: n, … }` over `results`. */
export function countByStatus(results) {
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const result of results) counts[result.status] = (counts[result.status] || 0) + 1;
  return counts;
}

function summary(results) {
  const counts = countByStatus(results);
  const n = results.length;
  const parts = STATUSES.map((status) => h("span", { class: ["count", status], "data-status": status, "data-count": String(counts[status]) }, `${counts[status]} ${status}`));
  return [`${n} matching failed or rejected event${n === 1 ? "" : "s"}: `, parts.flatMap((part, i) => (i === 0 ? [part] : [", ", part])), "."];
}

function outcomes(results) {
  return table([
    { title: "failed_id", cell: (r) => h("code", {}, r.failed_id) },
    { title: "Outcome", cell: (r) => h("span", { class: ["pill", r.status] }, r.status) },
    { title: "Code", cell: (r) => (r.code ? h("code", { class: "code" }, r.code) : "") },
    { title: "event_hash", cell: (r) => (r.event_hash ? h("code", { title: r.event_hash, class: "hash-short" }, `${r.event_hash.slice(0, 12)}…`) : "") },
  ], results.slice(0, MAX_ROWS), (r) => ({ "data-failed-id": r.failed_id, "data-status": r.status }));
}

/**
 * Wire the button: on click, replay what `clientId()` selects, show progress, then the count
 * and the outcome of every record in `container`; `onAnswer(answer)` sees a call that failed,
 * `onDone()` runs when it ended.
 */
export function setUpReplay({ button, container, clientId, onAnswer, onDone }) {
  button.addEventListener("click", async () => {
    const client = clientId();
    button.disabled = true;
    container.hidden = false;
    container.setAttribute("aria-busy", "true");
    const scope = client ? `of ${client}` : "of every client";
    fill(container, h("p", { class: "status loading", id: "replay-progress" }, `Retrying the failed events ${scope}…`));
    const { results, error } = await replayAll(client, (sofar) => {
      fill(container, h("p", { class: "status loading", id: "replay-progress" }, `Retrying the failed events ${scope}: ${sofar.length} so far…`));
    });
    if (error && error.status !== undefined) onAnswer(error);
    container.removeAttribute("aria-busy");
    fill(container,
      h("h4", {}, `Retry all matching (${client || "every client"})`),
      h("p", { id: "replay-summary", "data-total": String(results.length) }, summary(results)),
      error ? h("p", { class: "status error", id: "replay-error" }, error.message) : null,
      results.length > MAX_ROWS ? h("p", { class: "muted" }, `The first ${MAX_ROWS} records:`) : null,
      results.length ? h("div", { class: "table-wrap", id: "replay-results" }, outcomes(results)) : null);
    container.focus({ preventScroll: true });
    button.disabled = false;
    onDone();
  });
}
