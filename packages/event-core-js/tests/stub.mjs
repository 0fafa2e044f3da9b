// A stand-in for POST /events over real HTTP (node:http), for the sender's tests: it stores
// each event once by its event_hash (computed by the same WASM core, as the server does),
// answers batches item by item, and misbehaves on cue — 429/503 with Retry-After, a 500,
// connections closed mid-request or after storing, items answered `unavailable`.
import http from "node:http";
import { normalize } from "../node.js"; // the caller has run init()

/**
 * `script[n]` is what the n-th request (from 0) gets; past its end, a plain answer. A step:
 *   { status, retryAfter?, code? }  that status, nothing stored
 *   "reset-before"                  the socket closed while the body arrives: nothing stored
 *   "reset-after"                   every event stored, then the socket closed: no answer
 *   { unavailable: (i) => bool }    those items `unavailable`, the others stored
 */
export async function startStub(script = []) {
  const stored = new Map(); // event_hash -> the event's text as first stored
  const texts = new Map(); // event_hash -> every text it was sent as
  const requests = []; // { step, events, bytes, keepalive? }
  let received = 0; // events received in requests that got as far as storing
  const server = http.createServer((req, res) => {
    const step = script[requests.length] ?? "ok";
    const log = { step, events: 0, bytes: 0, key: req.headers["x-api-key"] };
    requests.push(log);
    if (step === "reset-before") {
      req.once("data", () => req.socket.destroy());
      return;
    }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      log.bytes = raw.length;
      if (typeof step === "object" && step.status) {
        const code = step.code ?? (step.status === 503 ? "storage_unavailable" : "throttled");
        const headers = { "content-type": "application/json" };
        if (step.retryAfter !== undefined) headers["retry-after"] = String(step.retryAfter);
        res.writeHead(step.status, headers);
        return res.end(JSON.stringify({ error: { code, message: `stub: ${step.status}`, request_id: "stub" } }));
      }
      const events = JSON.parse(raw.toString("utf8")).events;
      log.events = events.length;
      const results = events.map((event, index) => {
        if (step.unavailable?.(index))
          return { index, status: "unavailable", error: { code: "storage_unavailable", message: "stub" }, retryable: true };
        received++;
        const text = JSON.stringify(event);
        const result = normalize(text, Date.now());
        if (!result.ok) return { index, status: "failed", error: result.error, failed_id: `f-${index}`, retryable: false };
        const hash = result.event_hash;
        if (!texts.has(hash)) texts.set(hash, new Set());
        texts.get(hash).add(text);
        if (stored.has(hash)) return { index, status: "duplicate", event_hash: hash };
        stored.set(hash, text);
        return { index, status: "processed", event_hash: hash };
      });
      if (step === "reset-after") return req.socket.destroy();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ results }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stored,
    texts,
    requests,
    get received() {
      return received;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
