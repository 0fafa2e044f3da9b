// The JavaScript API the dashboard relies on: init, normalize's result shapes, version.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import init, { normalize, version } from "../node.js";

const NOW = Date.parse("2026-11-20T12:00:00Z");
const EVENT =
  '{"client_id":"acme-prod","source":"web","payload":{"metric":"purchase","amount":"12.50","timestamp":"2026-11-20T10:00:00+02:00"}}';

await init();

test("init can be called again and returns the same instance", async () => {
  assert.equal(await init(), await init());
});

test("a valid event: ok, the server's event_hash and event, amounts as strings", () => {
  const result = normalize(EVENT, NOW);
  assert.deepEqual(result, {
    ok: true,
    event_hash: "ecb033f0946ea0890f020f7906619a8afb5e4d2af1765898210df7528a321bfa",
    event: {
      amount: "12.5",
      client_id: "acme-prod",
      metric: "purchase",
      source: "web",
      timestamp: "2026-11-20T08:00:00Z",
    },
  });
  assert.equal(
    JSON.stringify(result.event),
    '{"amount":"12.5","client_id":"acme-prod","metric":"purchase","source":"web","timestamp":"2026-11-20T08:00:00Z"}',
  );
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.equal(Object.getPrototypeOf(result.event), Object.prototype);
});

test("event_id is present only when sent", () => {
  const withId = normalize('{"client_id":"a","event_id":"evt-1","payload":{"timestamp":0}}', NOW);
  assert.equal(withId.event.event_id, "evt-1");
  assert.deepEqual(Object.keys(withId.event), ["amount", "client_id", "event_id", "metric", "source", "timestamp"]);
  const without = normalize('{"client_id":"a","payload":{"timestamp":0}}', NOW);
  assert.equal("event_id" in without.event, false);
});

test("an invalid event: code, message and field", () => {
  const result = normalize('{"client_id":"a","payload":{"amount":"1,5","timestamp":0}}', NOW);
  assert.equal(result.ok, false);
  assert.equal(result.error.code, "invalid_amount");
  assert.equal(result.error.field, "payload.amount");
  assert.match(result.error.message, /^payload\.amount /);
  assert.deepEqual(Object.keys(result), ["ok", "error"]);
});

test("body errors have no field: not JSON, not an object, too large", () => {
  const notJson = normalize('{"client_id":', NOW);
  assert.equal(notJson.error.code, "invalid_json");
  assert.match(notJson.error.message, /at line 1, column 13\.$/);
  assert.equal(notJson.error.field, undefined);
  assert.equal("field" in notJson.error, false);
  assert.equal(normalize("[]", NOW).error.code, "not_an_object");
  assert.equal(normalize(`{"x":"${"a".repeat(1024 * 1024)}"}`, NOW).error.code, "body_too_large");
  assert.equal(normalize(`{"x":"${"a".repeat(32 * 1024)}"}`, NOW).error.code, "event_too_large");
});

test("the size limits count UTF-8 bytes, not UTF-16 units", () => {
  // 11 000 × "€" is 33 000 bytes but 11 000 UTF-16 units.
  const result = normalize(`{"client_id":"a","payload":{"timestamp":0},"x":"${"€".repeat(11000)}"}`, NOW);
  assert.equal(result.error.code, "event_too_large");
});

test("the 24 h rule uses nowMs, to the millisecond", () => {
  const at = (timestamp, now) =>
    normalize(`{"client_id":"a","payload":{"timestamp":"${timestamp}"}}`, now);
  assert.equal(at("2026-11-21T12:00:00Z", NOW).ok, true);
  assert.equal(at("2026-11-21T12:00:00.001Z", NOW).error.code, "timestamp_in_future");
  assert.equal(at("2026-11-21T12:00:00.001Z", NOW + 1).ok, true);
  assert.equal(at("2026-11-21T12:00:00.0005Z", NOW + 0.5).ok, true);
});

test("a batch body is refused with batch_not_supported on field events", () => {
  const result = normalize('{"events":[{"client_id":"a","payload":{"timestamp":0}}]}', NOW);
  assert.equal(result.error.code, "batch_not_supported");
  assert.equal(result.error.field, "events");
  assert.equal(normalize('{"events":[]}', NOW).error.code, "empty_batch");
});

test("lone surrogates in the JS string arrive as U+FFFD, as over HTTP", () => {
  const result = normalize('{"client_id":"a","source":"x\ud800y","payload":{"timestamp":0}}', NOW);
  assert.equal(result.event.source, "x\ufffdy");
});

test("nowMs must be finite; out-of-range times saturate", () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(() => normalize(EVENT, bad), { message: /nowMs must be a finite number/ });
  }
  assert.equal(normalize(EVENT, -1).error.code, "timestamp_in_future");
  assert.equal(normalize(EVENT, 1e300).ok, true);
});

test("version() is the package's version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  assert.equal(version(), pkg.version);
});
