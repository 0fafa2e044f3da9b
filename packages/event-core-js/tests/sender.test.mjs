// The sender's rules with an injected fetch (no network): local validation, batches within
// the API's limits, the outcomes, automatic flushes, the queue in a Storage across reloads
// and tabs, the keepalive flush of a hidden page within 64 KiB.
import { test } from "node:test";
import assert from "node:assert/strict";
import init, { createSender, normalize } from "../node.js";
import { createSender as createCore } from "../sender.js";

await init();

const NOW = Date.parse("2026-12-01T00:00:00Z");
const event = (i, pad = "") => ({
  client_id: "acme-web",
  payload: { metric: "m", amount: String(i), timestamp: 1795161600 + i },
  ...(pad && { pad }),
});
const bytes = (text) => Buffer.byteLength(text, "utf8");

/** A fetch that answers every item with `status(item, index, call)`, and what it was sent. */
function fakeFetch(status = () => "processed") {
  const calls = [];
  const fetch = async (url, init) => {
    const call = { url, init, events: JSON.parse(init.body).events, body: init.body };
    calls.push(call);
    const results = call.events.map((item, index) => {
      const s = status(item, index, calls.length - 1);
      if (s instanceof Error) throw s;
      const hash = normalize(JSON.stringify(item), NOW).event_hash;
      return s === "failed"
        ? { index, status: s, error: { code: "simulated_failure", message: "m", field: "simulateFailure" }, failed_id: "f1", retryable: true }
        : s === "unavailable"
          ? { index, status: s, error: { code: "storage_unavailable", message: "m" }, retryable: true }
          : { index, status: s, event_hash: hash };
    });
    return new Response(JSON.stringify({ results }), { status: 200 });
  };
  return { fetch, calls };
}

/** A Storage in memory (what localStorage offers the sender). */
class MemoryStorage {
  map = new Map();
  get length() { return this.map.size; }
  key(i) { return [...this.map.keys()][i] ?? null; }
  getItem(k) { return this.map.get(k) ?? null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const base = (extra) => ({ url: "http://api.test/v1/", key: "eik_x", flushAt: 1e9, flushIntervalMs: 0, now: () => NOW, sleep: async () => {}, random: () => 0.5, ...extra });

test("track validates and hashes locally; an invalid event is the API's error and never sent", async () => {
  const { fetch, calls } = fakeFetch();
  const sender = createSender(base({ fetch }));
  const ok = sender.track(event(1));
  assert.equal(ok.ok, true);
  assert.equal(ok.event_hash, normalize(JSON.stringify(event(1)), NOW).event_hash);
  assert.equal(sender.track(JSON.stringify(event(2))).ok, true, "JSON text is taken as is");
  const bad = sender.track({ client_id: "acme-web", payload: {} });
  assert.deepEqual(bad.error, { code: "missing_timestamp", message: bad.error.message, field: "payload.timestamp" });
  assert.equal(sender.track(undefined).error.code, "invalid_json");
  assert.equal(sender.track({ n: 1n }).error.code, "invalid_json", "what JSON.stringify refuses");
  const future = sender.track({ client_id: "a", payload: { timestamp: (NOW + 25 * 3600e3) / 1e3 } });
  assert.equal(future.error.code, "timestamp_in_future", "judged at the injected now");
  assert.equal(sender.queued, 2);
  const outcomes = await sender.flush();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, "http://api.test/v1/events");
  assert.equal(calls[0].init.headers["x-api-key"], "eik_x");
  assert.equal(calls[0].body, `{"events":[${JSON.stringify(event(1))},${JSON.stringify(event(2))}]}`, "the texts verbatim");
  assert.deepEqual(outcomes, [{ event_hash: ok.event_hash, status: "accepted" }, { event_hash: outcomes[1].event_hash, status: "accepted" }]);
});

test("the core module alone takes any normalize", () => {
  const sender = createCore(base({ normalize: () => ({ ok: true, event_hash: "h", event: {} }), fetch: fakeFetch().fetch }));
  assert.equal(sender.track({}).event_hash, "h");
});

test("batches: at most 500 events, or maxBatch", async () => {
  const { fetch, calls } = fakeFetch();
  const sender = createSender(base({ fetch, flushAt: 1e9 }));
  for (let i = 0; i < 1201; i++) sender.track(event(i));
  assert.equal((await sender.flush()).length, 1201);
  assert.deepEqual(calls.map((c) => c.events.length), [500, 500, 201]);
  const small = fakeFetch();
  const seven = createSender(base({ fetch: small.fetch, flushAt: 1e9, maxBatch: 7 }));
  for (let i = 0; i < 20; i++) seven.track(event(i));
  await seven.flush();
  assert.deepEqual(small.calls.map((c) => c.events.length), [7, 7, 6]);
});

test("batches: at most 1 MiB of body, counted in UTF-8 bytes", async () => {
  const { fetch, calls } = fakeFetch();
  const sender = createSender(base({ fetch, flushAt: 1e9 }));
  const texts = [];
  for (let i = 0; i < 100; i++) {
    // 10,000 × "€" is 30,000 bytes in UTF-8 (10,000 UTF-16 units): under 32 KiB per event.
    const text = JSON.stringify(event(i, "€".repeat(10_000)));
    texts.push(text);
    assert.equal(sender.track(text).ok, true);
  }
  await sender.flush();
  let next = 0;
  for (const call of calls) {
    assert.ok(bytes(call.body) <= 1048576, `${bytes(call.body)} bytes`);
    next += call.events.length;
    if (next < texts.length) assert.ok(bytes(call.body) + 1 + bytes(texts[next]) > 1048576, "full before it was cut");
  }
  assert.equal(next, 100);
  assert.deepEqual(calls.map((c) => c.events.length), [34, 34, 32]);
});

test("outcomes: processed, duplicate, failed (kept, retryable) and unavailable resent with the same bytes", async () => {
  const statuses = ["processed", "duplicate", "failed", "unavailable"];
  const { fetch, calls } = fakeFetch((item, index, call) => (call === 0 ? statuses[index] : "processed"));
  const sleeps = [];
  const sender = createSender(base({ fetch, sleep: async (ms) => sleeps.push(ms) }));
  const hashes = [0, 1, 2, 3].map((i) => sender.track(event(i)).event_hash);
  const outcomes = await sender.flush();
  assert.deepEqual(outcomes, [
    { event_hash: hashes[0], status: "accepted" },
    { event_hash: hashes[1], status: "duplicate" },
    { event_hash: hashes[2], status: "rejected", error: { code: "simulated_failure", message: "m", field: "simulateFailure" }, failed_id: "f1", retryable: true },
    { event_hash: hashes[3], status: "accepted" },
  ]);
  assert.equal(calls[1].body, `{"events":[${JSON.stringify(event(3))}]}`);
  assert.deepEqual(sleeps, [200], "at least the base before a resend");
});

test("unavailable past maxAttempts: given up, kept", async () => {
  const { fetch, calls } = fakeFetch(() => "unavailable");
  const sender = createSender(base({ fetch, maxAttempts: 3 }));
  sender.track(event(1));
  const [outcome] = await sender.flush();
  assert.equal(calls.length, 3);
  assert.deepEqual([outcome.status, outcome.kept, outcome.error.code], ["given_up", true, "unavailable"]);
  assert.equal(sender.queued, 1);
});

test("Retry-After as an HTTP date; a 200 that is not a batch answer is retried", async () => {
  let n = 0;
  const sleeps = [];
  const fetch = async (url, init) => {
    n++;
    if (n === 1) return new Response("{}", { status: 503, headers: { "retry-after": new Date(NOW + 3000).toUTCString() } });
    if (n === 2) return new Response("<html>portal</html>", { status: 200 });
    return fakeFetch().fetch(url, init);
  };
  let now = NOW;
  const sender = createSender(base({ fetch, now: () => now, sleep: async (ms) => (sleeps.push(ms), (now += ms)) }));
  sender.track(event(1));
  assert.deepEqual((await sender.flush()).map((o) => o.status), ["accepted"]);
  assert.deepEqual(sleeps, [3100, 200], "3 s + jitter, then full jitter 0.5 × 400");
});

test("flushAt and flushIntervalMs flush on their own; onOutcome hears it", async () => {
  const { fetch, calls } = fakeFetch();
  const heard = [];
  const sender = createSender(base({ fetch, flushAt: 3, onOutcome: (o) => heard.push(o.status) }));
  sender.track(event(1));
  sender.track(event(2));
  await tick();
  assert.equal(calls.length, 0);
  sender.track(event(3));
  await tick();
  assert.equal(calls.length, 1);
  assert.deepEqual(heard, ["accepted", "accepted", "accepted"]);

  const timed = fakeFetch();
  const later = createSender(base({ fetch: timed.fetch, flushIntervalMs: 20 }));
  later.track(event(4));
  assert.equal(timed.calls.length, 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(timed.calls.length, 1);
  assert.equal(later.queued, 0);
  later.close();
});

test("a flush called during another resolves with both; events tracked meanwhile go too", async () => {
  let release;
  const gate = new Promise((r) => (release = r));
  const inner = fakeFetch();
  const fetch = async (url, init) => (await gate, inner.fetch(url, init));
  const sender = createSender(base({ fetch }));
  sender.track(event(1));
  const first = sender.flush();
  sender.track(event(2));
  const second = sender.flush();
  assert.equal(sender.flush(), second, "one flush waits behind the running one");
  release();
  assert.equal((await first).length, 1);
  assert.equal((await second).length, 2);
  assert.deepEqual(inner.calls.map((c) => c.events.length), [1, 1]);
});

test("maxQueue: track refuses with queue_full, and takes again after a flush", async () => {
  const sender = createSender(base({ fetch: fakeFetch().fetch, maxQueue: 2 }));
  sender.track(event(1));
  sender.track(event(2));
  assert.equal(sender.track(event(3)).error.code, "queue_full");
  assert.equal(sender.track({}).error.code, "missing_client_id", "validation first");
  await sender.flush();
  assert.equal(sender.track(event(3)).ok, true);
});

test("storage: a reload loses nothing, and sends the same bytes", async () => {
  const storage = new MemoryStorage();
  const down = async () => { throw new TypeError("fetch failed"); };
  const page1 = createSender(base({ fetch: down, storage, maxAttempts: 1 }));
  const texts = [1, 2, 3].map((i) => JSON.stringify(event(i)));
  texts.forEach((t) => page1.track(t));
  await tick();
  assert.equal(storage.length, 1, "saved after the turn of the event loop");
  assert.deepEqual((await page1.flush()).map((o) => o.status), ["given_up", "given_up", "given_up"]);
  assert.equal(JSON.parse(storage.getItem(storage.key(0))).length, 3, "given up but kept");

  // The page reloads: a new sender adopts the stored queue and sends it.
  const { fetch, calls } = fakeFetch();
  const page2 = createSender(base({ fetch, storage }));
  assert.equal(page2.queued, 3);
  assert.equal(storage.length, 1, "one key: the old one was adopted into the new");
  const outcomes = await page2.flush();
  assert.equal(calls[0].body, `{"events":[${texts.join(",")}]}`);
  assert.deepEqual(outcomes.map((o) => o.status), ["accepted", "accepted", "accepted"]);
  await tick();
  assert.equal(storage.length, 0, "delivered: nothing stored");
});

test("storage: two tabs keep their own keys; the next load adopts both, each event once", async () => {
  const storage = new MemoryStorage();
  let id = 0;
  const tab = () => createSender(base({ fetch: fakeFetch().fetch, storage, random: () => (++id) / 10 }));
  const a = tab();
  const b = tab();
  a.track(event(1));
  b.track(event(2));
  b.track(event(1)); // the same text in both tabs: stored twice, adopted once
  await tick();
  assert.equal(storage.length, 2);
  const c = tab();
  assert.equal(c.queued, 2);
  assert.equal(storage.length, 1);
  storage.setItem("unrelated", "x");
  storage.setItem("event-core-js http://api.test/v1/ damaged", "{");
  const d = tab();
  assert.equal(d.queued, 2, "damaged keys are skipped");
  assert.equal(storage.getItem("unrelated"), "x");
});

test("storage full: the queue stays in memory and is still sent", async () => {
  const storage = new MemoryStorage();
  storage.setItem = () => { throw new DOMException("full", "QuotaExceededError"); };
  const { fetch } = fakeFetch();
  const sender = createSender(base({ fetch, storage }));
  sender.track(event(1));
  await tick();
  assert.deepEqual((await sender.flush()).map((o) => o.status), ["accepted"]);
});

test("keepalive: one request within 64 KiB, the rest stays stored; answered ones leave", async () => {
  const storage = new MemoryStorage();
  const { fetch, calls } = fakeFetch();
  const sender = createSender(base({ fetch, storage }));
  for (let i = 0; i < 100; i++) sender.track(event(i, "é".repeat(500))); // ~1.1 KB each
  const outcomes = await sender.flushKeepalive();
  assert.equal(calls.length, 1);
  assert.equal(calls[0].init.keepalive, true);
  const size = bytes(calls[0].body);
  const sent = calls[0].events.length;
  assert.ok(size <= 65536 && size + bytes(JSON.stringify(event(sent, "é".repeat(500)))) + 1 > 65536, `${size} B, ${sent} events`);
  assert.equal(outcomes.length, sent);
  assert.equal(sender.queued, 100 - sent);
  await tick();
  assert.equal(JSON.parse(storage.getItem(storage.key(0))).length, 100 - sent);
});

test("keepalive: no answer keeps everything; two at once share the 64 KiB", async () => {
  let release;
  const calls = [];
  const fetch = (url, init) => (calls.push(init), new Promise((_, reject) => (release = () => reject(new TypeError("page gone")))));
  const sender = createSender(base({ fetch }));
  for (let i = 0; i < 100; i++) sender.track(event(i, "x".repeat(1000)));
  const first = sender.flushKeepalive();
  const second = sender.flushKeepalive();
  await tick();
  const total = calls.reduce((n, c) => n + bytes(c.body), 0);
  assert.ok(total <= 65536, `${total} B in flight`);
  const ids = calls.flatMap((c) => JSON.parse(c.body).events.map((e) => e.payload.amount));
  assert.equal(new Set(ids).size, ids.length, "no event in both");
  release();
  await first;
  await second;
  assert.equal(sender.queued, 100);
});

test("a keepalive answered while a flush is in flight: one outcome per event", async () => {
  let release;
  const gate = new Promise((r) => (release = r));
  const inner = fakeFetch((item, index, call) => (call === 0 ? "processed" : "duplicate"));
  const fetch = async (url, init) => (init.keepalive ? inner.fetch(url, init) : (await gate, inner.fetch(url, init)));
  const heard = [];
  const sender = createSender(base({ fetch, onOutcome: (o) => heard.push(o.status) }));
  for (let i = 0; i < 5; i++) sender.track(event(i));
  const flushed = sender.flush(); // waits at the gate
  const kept = await sender.flushKeepalive(); // answered first
  release();
  assert.deepEqual(kept.map((o) => o.status), Array(5).fill("accepted"));
  assert.deepEqual(await flushed, [], "the flush's answers (duplicates) are for events already answered");
  assert.deepEqual(heard, Array(5).fill("accepted"));
  assert.equal(sender.queued, 0);
});

test("page hide: visibilitychange to hidden and pagehide send with keepalive; close() stops listening", async () => {
  const doc = new EventTarget();
  doc.visibilityState = "visible";
  const win = new EventTarget();
  globalThis.document = doc;
  globalThis.addEventListener = win.addEventListener.bind(win);
  globalThis.removeEventListener = win.removeEventListener.bind(win);
  try {
    const { fetch, calls } = fakeFetch();
    const sender = createSender(base({ fetch }));
    sender.track(event(1));
    doc.dispatchEvent(new Event("visibilitychange"));
    await tick();
    assert.equal(calls.length, 0, "still visible");
    doc.visibilityState = "hidden";
    doc.dispatchEvent(new Event("visibilitychange"));
    await tick();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].init.keepalive, true);
    sender.track(event(2));
    win.dispatchEvent(new Event("pagehide"));
    await tick();
    assert.equal(calls.length, 2);
    sender.track(event(3));
    sender.close();
    win.dispatchEvent(new Event("pagehide"));
    await tick();
    assert.equal(calls.length, 2);
  } finally {
    delete globalThis.document;
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  }
});

test("sender.js stays small: at most 5 KiB gzipped (README, Sizes)", async () => {
  const { readFileSync } = await import("node:fs");
  const { gzipSync } = await import("node:zlib");
  const size = gzipSync(readFileSync(new URL("../sender.js", import.meta.url)), { level: 9 }).length;
  assert.ok(size <= 5120, `sender.js is ${size} B gzipped`);
});
