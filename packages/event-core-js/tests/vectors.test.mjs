// The .wasm answers what the native Rust answers, byte for byte, on the cases of
// tests/common/cases.rs (whose native answers tests/server.rs checks against the ingest
// function itself). The vectors are written by test.sh:
//   cargo run -p event-core-js --example vectors > pkg/vectors.jsonl
// (or point EVENT_CORE_VECTORS at another file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import init, { normalize } from "../node.js";

const file = process.env.EVENT_CORE_VECTORS ?? new URL("../pkg/vectors.jsonl", import.meta.url);
if (!existsSync(file)) {
  throw new Error(`${file} is missing: run ./test.sh, or cargo run -p event-core-js --example vectors > pkg/vectors.jsonl`);
}
const vectors = readFileSync(file, "utf8")
  .split("\n")
  .filter((line) => line !== "")
  .map((line) => JSON.parse(line));

await init();

test("there are a few hundred vectors, valid and invalid", () => {
  assert.ok(vectors.length >= 600, `${vectors.length} vectors`);
  const ok = vectors.filter((v) => JSON.parse(v.expected).ok).length;
  assert.ok(ok >= 100, `${ok} valid`);
  assert.ok(vectors.length - ok >= 300, `${vectors.length - ok} invalid`);
});

test("every vector: JSON.stringify(normalize(input, now_ms)) is the native answer", () => {
  const mismatches = [];
  for (const [index, { input, now_ms, expected }] of vectors.entries()) {
    const actual = JSON.stringify(normalize(input, now_ms));
    if (actual !== expected) {
      mismatches.push(`#${index} ${JSON.stringify(input).slice(0, 200)} at ${now_ms}\n  wasm:   ${actual.slice(0, 400)}\n  native: ${expected.slice(0, 400)}`);
    }
  }
  assert.equal(mismatches.length, 0, `${mismatches.length} mismatches:\n${mismatches.slice(0, 10).join("\n")}`);
});

test("every valid vector: the event's keys come in the server's order", () => {
  for (const { input, now_ms, expected } of vectors) {
    const result = normalize(input, now_ms);
    if (!result.ok) continue;
    const keys = Object.keys(result.event);
    assert.deepEqual(keys, JSON.parse(expected).event && Object.keys(JSON.parse(expected).event));
    assert.match(result.event_hash, /^[0-9a-f]{64}$/);
    assert.equal(typeof result.event.amount, "string");
  }
});
