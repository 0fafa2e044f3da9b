// Type-checked by test.sh (tsc --noEmit), never run: the .d.ts files describe the API the
// README shows, through the package's "exports" (node and browser builds alike).
import init, { normalize, version } from "event-core-js";
import type { NormalizeError, NormalizeResult, NormalizedEvent } from "event-core-js";
import initWeb, { normalize as normalizeWeb } from "../pkg/event_core.js";

await init();
await initWeb({ module_or_path: new URL("https://example.com/event_core_bg.wasm") });

const result: NormalizeResult = normalize('{"client_id":"a","payload":{"timestamp":0}}', Date.now());
if (result.ok) {
  const hash: string = result.event_hash;
  const event: NormalizedEvent = result.event;
  const amount: string = event.amount;
  const eventId: string | undefined = event.event_id;
  console.log(hash, amount, eventId, event.client_id, event.source, event.metric, event.timestamp);
  // @ts-expect-error: a processed result has no error
  console.log(result.error);
} else {
  const error: NormalizeError = result.error;
  const field: string | undefined = error.field;
  console.log(error.code, error.message, field);
  // @ts-expect-error: a refused result has no event
  console.log(result.event);
}

// @ts-expect-error: nowMs is a number
normalize("{}", "now");
const other: NormalizeResult = normalizeWeb("{}", 0);
const v: string = version();
console.log(other, v);
