// The sender against a stub of POST /events over real HTTP (Node's own fetch): 429 and 503
// with Retry-After, a 500, connections closed mid-request and after storing, items answered
// `unavailable`. Every event must be stored exactly once, every wait must be the rule's
// (Retry-After honoured: the clock and sleep are injected, so the waits are exact), and the
// counts of requests and outcomes are exact.
import { test } from "node:test";
import assert from "node:assert/strict";
import init, { createSender } from "../node.js";
import { startStub } from "./stub.mjs";

await init();

const T0 = Date.parse("2026-12-01T00:00:00Z");
const event = (i) => ({
  client_id: "acme-web",
  source: "web",
  payload: { metric: "purchase", amount: `${i}.25`, timestamp: 1795161600 + i },
});

/** A fake clock that only the injected sleep moves, and the waits it was asked for. */
function clock() {
  const c = { now: T0, sleeps: [] };
  c.options = { now: () => c.now, sleep: async (ms) => (c.sleeps.push(ms), (c.now += ms)), random: () => 0.5 };
  return c;
}

const count = (outcomes) => outcomes.reduce((n, o) => ((n[o.status] = (n[o.status] ?? 0) + 1), n), {});

test("429/503 with Retry-After, 500, resets and unavailable items: each event stored once, waits exact", async () => {
  const stub = await startStub([
    { status: 429, retryAfter: 2 }, // batch 1: wait 2 s + jitter (base 200 ms × 0.5)
    { status: 503, retryAfter: 1 }, // 1 s + 100 ms
    "reset-before", // attempt 3: full jitter 0.5 × 200 × 2² = 400 ms
    "reset-after", // stored, answer lost; attempt 4: 0.5 × 200 × 2³ = 800 ms
    "ok", // batch 1 again: all 500 duplicates
    { unavailable: (i) => i % 4 === 0 }, // batch 2: 125 to resend after max(200, 0.5 × 200) ms
    { status: 500 }, // the resend: backoff 0.5 × 200 = 100 ms
    "ok", // the 125 accepted
    { status: 503 }, // batch 3: 503 without Retry-After is a plain backoff, 100 ms
    "ok",
  ]);
  const c = clock();
  const outcomes = [];
  const sender = createSender({ url: stub.url, key: "eik_test", flushAt: 10_000, flushIntervalMs: 0, onOutcome: (o) => outcomes.push(o), ...c.options });
  const hashes = new Set();
  for (let i = 0; i < 1200; i++) {
    const result = sender.track(event(i));
    assert.equal(result.ok, true);
    hashes.add(result.event_hash);
  }
  assert.equal(sender.track({ client_id: "acme-web", payload: { amount: "x", timestamp: 0 } }).error.code, "invalid_amount");
  assert.equal(sender.queued, 1200, "the invalid event is not queued");

  const flushed = await sender.flush();
  await stub.close();

  assert.deepEqual(c.sleeps, [2100, 1100, 400, 800, 200, 100, 100], "Retry-After, then full-jitter backoff");
  assert.deepEqual(stub.requests.map((r) => r.events), [0, 0, 0, 500, 500, 500, 0, 125, 0, 200]);
  assert.equal(stub.requests.length, 10);
  assert.ok(stub.requests.every((r) => r.key === "eik_test"));
  assert.equal(stub.stored.size, 1200, "every event stored");
  assert.deepEqual(new Set(stub.stored.keys()), hashes, "with the hashes track() gave");
  for (const [hash, sent] of stub.texts) assert.equal(sent.size, 1, `${hash}: every send carried the same text`);
  assert.deepEqual(count(flushed), { accepted: 700, duplicate: 500 });
  assert.deepEqual(new Set(flushed.map((o) => o.event_hash)), hashes, "one outcome per event");
  assert.equal(flushed.length, 1200);
  assert.deepEqual(outcomes, flushed, "onOutcome saw the same");
  assert.equal(sender.queued, 0);
});

test("Retry-After measured on the real clock", async () => {
  const stub = await startStub([{ status: 429, retryAfter: 1 }]);
  const sender = createSender({ url: stub.url, key: "k", flushIntervalMs: 0 });
  sender.track(event(1));
  const started = performance.now();
  const outcomes = await sender.flush();
  const waited = performance.now() - started;
  await stub.close();
  assert.deepEqual(count(outcomes), { accepted: 1 });
  assert.equal(stub.requests.length, 2);
  assert.ok(waited >= 1000 && waited < 1000 + 200 + 2000, `waited ${waited} ms`); // slack for a loaded machine
});

test("past maxAttempts the batch is given up but kept; the next flush delivers it once", async () => {
  const stub = await startStub(Array(3).fill("reset-after")); // stored each time, never answered
  const c = clock();
  const sender = createSender({ url: stub.url, key: "k", flushIntervalMs: 0, maxAttempts: 3, ...c.options });
  for (let i = 0; i < 5; i++) sender.track(event(i));
  const first = await sender.flush();
  assert.deepEqual(count(first), { given_up: 5 });
  assert.ok(first.every((o) => o.kept === true && o.error.code === "network_error"));
  assert.deepEqual(c.sleeps, [100, 200], "full jitter after attempts 1 and 2: 0.5 × 200, 0.5 × 400");
  assert.equal(sender.queued, 5);
  const second = await sender.flush();
  await stub.close();
  assert.deepEqual(count(second), { duplicate: 5 }, "they had landed: duplicates, not new");
  assert.equal(stub.stored.size, 5);
  assert.equal(stub.requests.length, 4);
  assert.equal(sender.queued, 0);
});

test("a refused key stops the flush and keeps the events; a 400 drops its batch only", async () => {
  const stub = await startStub([{ status: 401, code: "unauthorized" }, { status: 400, code: "invalid_json" }]);
  const sender = createSender({ url: stub.url, key: "bad", flushIntervalMs: 0, maxBatch: 2 });
  for (let i = 0; i < 4; i++) sender.track(event(i));
  const refused = await sender.flush();
  assert.equal(stub.requests.length, 1, "the other batch is not tried with a refused key");
  assert.deepEqual(refused.map((o) => [o.status, o.kept, o.error.code]), Array(4).fill(["given_up", true, "unauthorized"]));
  assert.equal(sender.queued, 4);
  const next = await sender.flush();
  await stub.close();
  assert.deepEqual(next.map((o) => o.status), ["given_up", "given_up", "accepted", "accepted"]);
  assert.equal(next[0].kept, false);
  assert.equal(next[0].error.code, "invalid_json");
  assert.equal(next[0].event, JSON.stringify(event(0)), "a dropped event comes back as its text");
  assert.equal(sender.queued, 0);
  assert.equal(stub.stored.size, 2);
});
