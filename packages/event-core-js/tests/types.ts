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

// The sender, from the package's entry point and from the core module with its normalize.
import { createSender } from "event-core-js";
import type { Outcome, Sender, SenderOptions } from "event-core-js";
import { createSender as createCore } from "../sender.js";

const options: SenderOptions = { url: "https://api.example.com/v1", key: "eik_…", flushAt: 50, storage: localStorage };
const sender: Sender = createSender(options);
const tracked = sender.track({ client_id: "acme-web", payload: { timestamp: 0 } });
if (!tracked.ok) console.log(tracked.error.code);
const outcomes: Outcome[] = await sender.flush();
for (const o of outcomes) {
  if (o.status === "rejected") console.log(o.error.code, o.failed_id, o.retryable);
  else if (o.status === "given_up") console.log(o.kept ? o.error.message : o.event);
  else console.log(o.event_hash);
}
// @ts-expect-error: a dropped event's text is only on kept: false
if (outcomes[0]?.status === "given_up") console.log(outcomes[0].event);
const n: number = sender.queued;
sender.close();
const core: Sender = createCore({ ...options, normalize, fetch, now: () => 0, sleep: async () => {}, random: Math.random });
// @ts-expect-error: the core module needs the normalize to use
createCore(options);
// @ts-expect-error: url is required
createSender({ key: "k" });
console.log(n, core, sender.flushKeepalive());
