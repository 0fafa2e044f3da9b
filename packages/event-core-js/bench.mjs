// Time of one normalize() call from JavaScript (UTF-8 encoding of the body, the wasm work,
// JSON.parse of the result), and of loading the module: `node bench.mjs` after build.sh.
const t0 = performance.now();
const { default: init, normalize } = await import("./node.js");
await init();
const loadMs = performance.now() - t0;

const EVENT =
  '{"client_id":"acme-prod","source":"web","event_id":"evt-1","payload":{"metric":"purchase","amount":12.5,"timestamp":"2026-11-20T10:00:00+02:00"},"simulateFailure":false}';
const NOW = Date.parse("2026-11-20T12:00:00Z");
const INVALID = '{"client_id":"acme-prod","payload":{"amount":"12,5","timestamp":0}}';

function perCall(body, calls) {
  for (let i = 0; i < calls / 10; i++) normalize(body, NOW); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) normalize(body, NOW);
  return Number(process.hrtime.bigint() - start) / calls;
}

const valid = perCall(EVENT, 200_000);
const invalid = perCall(INVALID, 200_000);
console.log(`node ${process.version}: import + init ${loadMs.toFixed(1)} ms`);
console.log(`normalize, valid event (${EVENT.length} bytes): ${(valid / 1000).toFixed(2)} µs per call, ${(1e9 / valid / 1000).toFixed(0)} k/s`);
console.log(`normalize, invalid amount: ${(invalid / 1000).toFixed(2)} µs per call, ${(1e9 / invalid / 1000).toFixed(0)} k/s`);
