// The sender in Node: sends NDJSON events from standard input (or three demo events) to the
// API and prints each outcome, then the counts. URL and key as event-ingest finds them:
// EVENT_INGEST_URL / EVENT_INGEST_KEY, else the local stack's .local/api.env and .local/dev.key.
//
//   node examples/send.mjs < events.ndjson
//   node examples/send.mjs            # three demo events of client acme-web
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import init, { createSender } from "../node.js";

const local = (name) => {
  try {
    return readFileSync(new URL(`../../../.local/${name}`, import.meta.url), "utf8");
  } catch {
    return "";
  }
};
const url = process.env.EVENT_INGEST_URL || local("api.env").match(/^BASE_URL=(.*)$/m)?.[1];
const key = process.env.EVENT_INGEST_KEY || local("dev.key").trim();
if (!url || !key) {
  console.error("no URL or key: set EVENT_INGEST_URL and EVENT_INGEST_KEY, or start the local stack (make dev)");
  process.exit(2);
}

await init();
const counts = {};
const sender = createSender({
  url,
  key,
  flushAt: 500, // whole batches
  onOutcome: (o) => {
    counts[o.status] = (counts[o.status] ?? 0) + 1;
    if (o.status !== "accepted" && o.status !== "duplicate") console.log(JSON.stringify(o));
  },
});

const lines = process.stdin.isTTY
  ? [1, 2, 3].map((i) => JSON.stringify({ client_id: "acme-web", event_id: `demo-${i}`, source: "node", payload: { metric: "demo", amount: i, timestamp: Date.now() } }))
  : createInterface({ input: process.stdin, crlfDelay: Infinity });
let line = 0;
for await (const text of lines) {
  line++;
  if (!text.trim()) continue;
  // Wait for room rather than drop: queue_full means the server is slower than the input.
  let result;
  while ((result = sender.track(text)).error?.code === "queue_full") await sender.flush();
  if (!result.ok) console.log(JSON.stringify({ line, rejected_locally: result.error }));
}
await sender.flush();
console.log(JSON.stringify(counts));
