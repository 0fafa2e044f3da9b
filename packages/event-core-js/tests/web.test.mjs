// The browser build as a browser loads it: pkg/event_core.js with init() given the .wasm
// (here as bytes; a browser passes nothing and the module fetches event_core_bg.wasm next
// to itself), and initSync.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import init, { initSync, normalize, version } from "../pkg/event_core.js";

const wasm = readFileSync(new URL("../pkg/event_core_bg.wasm", import.meta.url));

test("the web build loads from bytes with init({ module_or_path })", async () => {
  await init({ module_or_path: wasm });
  assert.match(version(), /^\d+\.\d+\.\d+$/);
  assert.equal(normalize('{"client_id":"a","payload":{"timestamp":0}}', 0).event.timestamp, "1970-01-01T00:00:00Z");
});

test("initSync accepts a compiled module", () => {
  initSync({ module: new WebAssembly.Module(wasm) });
  assert.equal(normalize("{}", 0).error.code, "missing_client_id");
});

test("the module resolves its .wasm next to itself (what a browser fetches)", () => {
  const glue = readFileSync(new URL("../pkg/event_core.js", import.meta.url), "utf8");
  assert.match(glue, /new URL\('event_core_bg\.wasm', import\.meta\.url\)/);
});
