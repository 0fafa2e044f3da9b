// The hash test vectors of event-core (shared/core/tests/hash.rs), whose expected hashes
// were computed independently of the Rust code (Python hashlib over the documented
// encoding), read from that file so the two never drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import init, { normalize } from "../node.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const source = readFileSync(path.join(root, "shared", "core", "tests", "hash.rs"), "utf8");

// In `fn vectors()`: (r#"event json"#, received at, "expected hex"), the receive time being
// `received()` (2026-11-21T00:00:00Z) or `EventTimestamp::MAX`.
const RECEIVED = {
  "received()": Date.parse("2026-11-21T00:00:00Z"),
  "EventTimestamp::MAX": Number.MAX_VALUE, // saturates at 2262-04-11T23:47:16.854775807Z
};
const body = source.slice(source.indexOf("fn vectors()"), source.indexOf("#[test]"));
const vectors = [...body.matchAll(/r#"(.*?)"#,\s*([\w:()]+),\s*"([0-9a-f]{64})"/gs)].map(
  ([, json, at, hex]) => ({ json, at, hex }),
);

await init();

test("the vectors of hash.rs were found", () => {
  assert.ok(vectors.length >= 6, `found ${vectors.length} vectors in hash.rs`);
  for (const { at } of vectors) assert.ok(at in RECEIVED, `unknown receive time ${at}`);
});

for (const { json, at, hex } of vectors) {
  test(`event_hash of ${json.slice(0, 70)}…`, () => {
    const result = normalize(json, RECEIVED[at]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.event_hash, hex);
  });
}

test("the documented example: acme, purchase, 12.5 at 2026-11-20T08:00:00Z", () => {
  const result = normalize(
    '{"client_id":"acme","payload":{"metric":"purchase","amount":12.5,"timestamp":"2026-11-20T08:00:00Z"}}',
    Date.parse("2026-11-21T00:00:00Z"),
  );
  assert.equal(result.event_hash, "93dfd8983fe3545ccff1d572ef8ca6e731edfd87d3be9237f8193d6a096f60c5");
});
