// The batching sender of POST /events, for browsers and Node 20 alike (no imports: web.js and
// node.js hand it the WASM core's `normalize`). It follows clients/event-ingest: events are
// validated and hashed locally, sent in batches within the API's limits, retried after
// Retry-After on 429/503 and with full-jitter backoff otherwise, and items answered
// `unavailable` are resent. The queue can live in a Storage (localStorage) so a reload loses
// nothing, and a hidden page sends what fits a `keepalive` fetch.
//
// Exactly once rests on the server's dedupe by event_hash: an event travels as the text it
// was validated as, the same bytes on every resend and after a reload, so one that landed
// unseen (a lost answer, a closed page) comes back `duplicate`, never counted twice.

const MAX_EVENTS = 500; // per request: the API's batch limit
const MAX_BODY = 1048576; // bytes per request body: the API's limit
const KEEPALIVE = 65536; // bytes of keepalive bodies in flight per page: the Fetch quota
const ENVELOPE = 13; // '{"events":[' + ']}'
const utf8 = new TextEncoder();

/** @param {import("./sender.js").SenderOptions} options */
export function createSender(options) {
  const {
    url, key, normalize, onOutcome,
    flushAt = 20, flushIntervalMs = 5000, maxQueue = 10000, maxBatch = MAX_EVENTS,
    maxAttempts = 10, baseMs = 200, capMs = 30000, timeoutMs = 60000,
    storage, storageKey = "event-core-js " + url, pageHide = true,
    fetch: send = (u, i) => fetch(u, i), now = Date.now, random = Math.random,
    sleep = (ms) => new Promise((r) => setTimeout(r, ms)),
  } = options;
  const endpoint = String(url).replace(/\/+$/, "") + "/events";
  const batchMax = Math.max(1, Math.min(maxBatch, MAX_EVENTS));
  // One Storage key per sender (tabs do not overwrite each other); a new sender adopts the
  // keys its predecessors left behind under the same prefix.
  const prefix = storageKey + " ";
  const id = prefix + now().toString(36) + random().toString(36).slice(2, 8);
  let queue = []; // {h: event_hash, b: text, n: UTF-8 bytes, done?, k?: in a keepalive}
  let running, waiting, timer, saving, pausedUntil = 0, inKeepalive = 0;

  const entry = (h, b) => ({ h, b, n: utf8.encode(b).length });

  function save() {
    saving = false;
    if (!storage) return true;
    try {
      if (queue.length) storage.setItem(id, JSON.stringify(queue.map((e) => [e.h, e.b])));
      else storage.removeItem(id);
      return true;
    } catch {
      return false; // over quota, or storage refused: the queue stays in memory
    }
  }
  // Saved once per turn of the event loop, before the page can unload.
  function changed() {
    if (storage && !saving) (saving = true), queueMicrotask(save);
  }

  if (storage) {
    const keys = [];
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i);
      if (k && k.startsWith(prefix)) keys.push(k);
    }
    const seen = new Set();
    for (const k of keys) {
      try {
        for (const [h, b] of JSON.parse(storage.getItem(k)))
          if (!seen.has(b)) seen.add(b), queue.push(entry(h, b));
      } catch {} // not ours or damaged: skipped, not fatal
    }
    // Ours is written before theirs go, so an adopted event is never only in memory. A live
    // tab whose key is adopted keeps sending its own copy: at worst a duplicate.
    if (save()) for (const k of keys) if (k !== id) storage.removeItem(k);
  }

  // The next batch of `list`: in order, at most batchMax events and `bytes` of body.
  function cut(list, bytes) {
    const batch = [];
    let size = ENVELOPE;
    for (const e of list) {
      if (e.done) continue;
      const more = size + e.n + (batch.length ? 1 : 0);
      if (batch.length >= batchMax || more > bytes) break;
      batch.push(e), (size = more);
    }
    return [batch, size];
  }

  const body = (batch) => '{"events":[' + batch.map((e) => e.b).join(",") + "]}";
  const request = (text, keepalive) => send(endpoint, {
    method: "POST", body: text, keepalive,
    headers: { "content-type": "application/json", "x-api-key": key },
    signal: globalThis.AbortSignal?.timeout?.(timeoutMs),
  });

  // One answer read whole: the batch's results in item order, or why there are none.
  async function answer(res, count) {
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch {}
    const s = res.status;
    if (s === 200 && Array.isArray(json?.results)) {
      const results = [];
      for (const r of json.results) results[r?.index] = r;
      if (results.length === count && !results.includes(undefined)) return { results };
    }
    const failure = {
      code: json?.error?.code || (s === 200 ? "bad_answer" : "http_" + s),
      message: json?.error?.message || json?.message || text.slice(0, 300),
      // 4xx but these: the same request would get the same answer.
      retryable: s >= 500 || s === 429 || s === 408 || s === 200,
      kept: s >= 500 || [200, 401, 403, 408, 429].includes(s),
    };
    const after = (s === 429 || s === 503) && res.headers.get("retry-after");
    if (after) {
      const ms = isNaN(after) ? Date.parse(after) - now() : after * 1000;
      if (ms >= 0) failure.after = ms;
    }
    return { failure };
  }

  // full jitter: uniform in [0, min(cap, base·2^(attempt-1))], so clients that failed
  // together do not come back together.
  const backoff = (attempt) => random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));

  // POST one batch until it gets results, or its error is final, or the attempts are spent.
  async function post(batch) {
    const text = body(batch);
    for (let attempt = 1; ; attempt++) {
      const paused = pausedUntil - now();
      if (paused > 0) await sleep(paused);
      let got;
      try {
        got = await answer(await request(text), batch.length);
      } catch (e) {
        const timeout = e?.name === "TimeoutError";
        got = { failure: { code: timeout ? "timeout" : "network_error", message: String(e?.message ?? e), retryable: true, kept: true } };
      }
      const f = got.failure;
      if (!f || !f.retryable || attempt >= maxAttempts) return got;
      // Retry-After is a minimum: the server knows when it can take more. It speaks for the
      // server, so every batch waits (pausedUntil), with a little jitter above it.
      let wait = backoff(attempt);
      if (f.after !== undefined) (wait = f.after + baseMs * random()), (pausedUntil = now() + wait);
      await sleep(wait);
    }
  }

  function report(outcome, out) {
    out.push(outcome);
    try { onOutcome?.(outcome); } catch {} // the caller's bug must not stop a delivery
  }

  function finish(e, outcome, out) {
    if (e.done) return; // answered already (a keepalive and a flush may overlap)
    e.done = true;
    report({ event_hash: e.h, ...outcome }, out);
  }

  function settle(batch, results, out) {
    const again = [];
    batch.forEach((e, i) => {
      const r = results[i];
      if (e.done) return; // a keepalive request answered it meanwhile
      if (r.status === "unavailable") return again.push(e);
      finish(e, r.status === "processed" ? { status: "accepted" }
        : r.status === "duplicate" ? { status: "duplicate" }
        : { status: "rejected", error: r.error, failed_id: r.failed_id, retryable: !!r.retryable }, out);
    });
    queue = queue.filter((e) => !e.done);
    changed();
    return again;
  }

  // `kept`: still queued (and stored), the next flush sends it again; otherwise it is
  // dropped, and its text is in the outcome.
  function giveUp(batch, { code, message, kept }, out) {
    const error = { code, message };
    for (const e of batch) {
      if (e.done) continue;
      if (kept) report({ event_hash: e.h, status: "given_up", error, kept }, out);
      else finish(e, { status: "given_up", error, kept, event: e.b }, out);
    }
    queue = queue.filter((e) => !e.done);
    changed();
  }

  // Deliver one batch, resending its `unavailable` items with the same bytes. Returns the
  // failure that should stop this flush (the server unreachable, the key refused).
  async function deliver(batch, out) {
    for (let round = 1; ; round++) {
      const { results, failure } = await post(batch);
      if (failure) {
        giveUp(batch, failure, out);
        return failure.kept && failure; // a refused batch (4xx) does not stop the others
      }
      batch = settle(batch, results, out);
      if (!batch.length) return;
      if (round >= maxAttempts) {
        const stop = { code: "unavailable", message: `still unavailable after ${round} sends`, kept: true };
        giveUp(batch, stop, out);
        return stop;
      }
      // Storage could not take these: slow down, then resend the same bytes.
      await sleep(Math.max(baseMs, backoff(round)));
    }
  }

  async function drain() {
    const out = [];
    const todo = queue.slice(); // what is queued now; later events wait for the next flush
    let batch;
    try {
      while ((batch = cut(todo, MAX_BODY)[0]).length) {
        const stop = await deliver(batch, out);
        todo.splice(0, todo.indexOf(batch[batch.length - 1]) + 1);
        if (stop) {
          giveUp(todo, stop, out);
          break;
        }
      }
    } catch (e) {
      giveUp(todo.filter((x) => !x.done), { code: "internal_error", message: String(e), kept: true }, out);
    }
    return out;
  }

  /** Sends everything queued now; resolves with the outcome of each event sent. */
  function flush() {
    if (waiting) return waiting; // one flush waits behind the running one; it sends all
    if (!running) return (running = drain().finally(() => (running = null)));
    return (waiting = running.then((first) => ((waiting = null), flush().then((next) => first.concat(next)))));
  }

  function arm() {
    if (timer || !queue.length || !(flushIntervalMs > 0)) return;
    timer = setTimeout(() => {
      timer = null;
      flush().then(arm);
    }, flushIntervalMs);
    timer.unref?.(); // a Node process may exit with a timer pending (flush() before exit)
  }

  /** The page is going: send what fits the keepalive quota; the rest stays in storage. */
  async function flushKeepalive() {
    save(); // now: this page may never run a microtask again
    const [batch, size] = cut(queue.filter((e) => !e.k), KEEPALIVE - inKeepalive);
    const out = [];
    if (!batch.length) return out;
    inKeepalive += size;
    batch.forEach((e) => (e.k = true));
    try {
      const res = await request(body(batch), true);
      const { results } = await answer(res, batch.length);
      if (results) settle(batch, results, out); // unavailable ones stay queued
    } catch {} // no answer: they stay queued, the next flush or load resends them
    finally {
      inKeepalive -= size;
      batch.forEach((e) => (e.k = false));
    }
    return out;
  }

  const doc = globalThis.document;
  const onVisibility = () => doc.visibilityState === "hidden" && flushKeepalive();
  if (pageHide && doc && globalThis.addEventListener) {
    doc.addEventListener("visibilitychange", onVisibility);
    addEventListener("pagehide", flushKeepalive);
  }
  arm(); // adopted events go out without waiting for a new one

  return {
    track(event) {
      let text;
      try {
        text = typeof event === "string" ? event : JSON.stringify(event);
      } catch (e) {
        return { ok: false, error: { code: "invalid_json", message: String(e?.message ?? e) } };
      }
      const result = normalize(text ?? "", now());
      if (!result.ok) return result;
      if (queue.length >= maxQueue)
        return { ok: false, error: { code: "queue_full", message: `${queue.length} events are waiting to be sent (maxQueue); try again after a flush.` } };
      queue.push(entry(result.event_hash, text));
      changed();
      if (queue.length >= flushAt && !waiting) flush();
      arm();
      return result;
    },
    flush,
    flushKeepalive,
    get queued() {
      return queue.length;
    },
    close() {
      clearTimeout(timer);
      timer = null;
      if (doc && globalThis.removeEventListener) {
        doc.removeEventListener("visibilitychange", onVisibility);
        removeEventListener("pagehide", flushKeepalive);
      }
      save();
    },
  };
}
