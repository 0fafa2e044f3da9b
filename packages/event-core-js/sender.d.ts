// Types of sender.js: the batching sender of POST /events (see README, "Sending events").
import type { NormalizeError, NormalizeResult } from "./pkg/event_core.js";

/** What the sender needs of `localStorage` (any `Storage` is one). */
export interface StorageLike {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SenderOptions {
  /** The API's base URL (`https://…/v1`, `http://127.0.0.1:9000`): events go to `${url}/events`. */
  url: string;
  /** The API key, sent as `x-api-key` (an ingest-only key is enough). */
  key: string;
  /** Flush once this many events are queued (default 20). */
  flushAt?: number;
  /** Flush what is queued this long after an event is tracked (default 5000; 0: never). */
  flushIntervalMs?: number;
  /** `track` refuses new events (`queue_full`) while this many wait (default 10000). */
  maxQueue?: number;
  /** Events per request, at most the API's 500 (the default). */
  maxBatch?: number;
  /** Requests per batch, the first included, before it is given up (default 10). */
  maxAttempts?: number;
  /** The first backoff's upper bound, and the jitter above Retry-After (default 200 ms). */
  baseMs?: number;
  /** No backoff is longer (Retry-After may be) (default 30000 ms). */
  capMs?: number;
  /** One request's time limit (default 60000 ms; the API answers within 29 s). */
  timeoutMs?: number;
  /** Where the queue is kept between page loads (`localStorage`); none by default. */
  storage?: StorageLike;
  /** The prefix of the storage keys (default `"event-core-js " + url`). */
  storageKey?: string;
  /** In a browser, send with `keepalive` when the page is hidden (default true). */
  pageHide?: boolean;
  /** Told every outcome, of every flush (automatic ones too). */
  onOutcome?: (outcome: Outcome) => void;
  /** Test seams: the `fetch`, clock, sleep and random numbers to use (default the global ones). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  now?: () => number;
  sleep?: (ms: number) => Promise<unknown>;
  random?: () => number;
}

/** `SenderOptions` plus the core's `normalize` (web.js and node.js pass it). */
export interface CoreSenderOptions extends SenderOptions {
  normalize: (bodyJson: string, nowMs: number) => NormalizeResult;
}

/** An error of the API (`error` of its answer), or the sender's own (`network_error`, `timeout`, `http_502`, `unavailable`, …). */
export type SendError = { code: string; message: string; field?: string };

/** What became of one tracked event. */
export type Outcome =
  /** Counted now (`processed`), or already counted earlier (`duplicate`: a resend, or the same event again). */
  | { event_hash: string; status: "accepted" | "duplicate" }
  /**
   * Not counted, by the API's answer: invalid (`retryable: false`), or kept as failed on the
   * server under `failed_id` (`retryable: true`: POST /events/failed/{failed_id}/retry).
   */
  | { event_hash: string; status: "rejected"; error: SendError; failed_id?: string; retryable: boolean }
  /** This flush stopped trying (server unreachable, key refused): still queued, sent again later. */
  | { event_hash: string; status: "given_up"; error: SendError; kept: true }
  /** Refused as a whole (a 4xx): dropped; `event` is its text. */
  | { event_hash: string; status: "given_up"; error: SendError; kept: false; event: string };

export interface Sender {
  /**
   * Validates and hashes the event (an object, or its JSON text) with the core and queues it.
   * The result is `normalize`'s: an invalid event is never queued nor sent; `queue_full` when
   * `maxQueue` events wait.
   */
  track(event: unknown): NormalizeResult | { ok: false; error: NormalizeError };
  /** Sends everything queued now; resolves with an outcome per event sent (never rejects). */
  flush(): Promise<Outcome[]>;
  /** What a hidden page does: one `keepalive` request of what fits 64 KiB; the rest stays stored. */
  flushKeepalive(): Promise<Outcome[]>;
  /** Events waiting (in flight and kept ones included). */
  readonly queued: number;
  /** Stops the timer and the page listeners, and stores the queue. */
  close(): void;
}

export function createSender(options: CoreSenderOptions): Sender;
