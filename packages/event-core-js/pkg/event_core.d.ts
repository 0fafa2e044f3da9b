/* tslint:disable */
/* eslint-disable */
/**
 * An event after normalization: exactly the `event` object of the API's
 * `201 {"status":"processed","event_hash","event"}` answer, keys in the same order
 * (`JSON.stringify(result.event)` is byte for byte what the server sends).
 */
export interface NormalizedEvent {
    /** Canonical decimal as a string, never a float: `"12.5"`, `"-0.001"`, `"100"`, `"0"`. */
    amount: string;
    /** 1 to 128 characters of `A-Z a-z 0-9 . _ : @ -`. */
    client_id: string;
    /** Present only when the event carried one. */
    event_id?: string;
    /** Trimmed; `"unknown"` when the event had none. */
    metric: string;
    /** Trimmed; `"unknown"` when the event had none. */
    source: string;
    /** RFC 3339 UTC with `Z`, sub-second digits without trailing zeros: `"2026-11-20T08:00:00.5Z"`. */
    timestamp: string;
}

/** Why the body was refused: the `error` object the API answers (without `request_id`). */
export interface NormalizeError {
    /**
     * The API's stable code: an event rule (`missing_client_id`, `invalid_client_id`,
     * `invalid_event_id`, `invalid_source`, `invalid_metric`, `invalid_amount`,
     * `missing_timestamp`, `invalid_timestamp`, `timestamp_in_future`, `invalid_field`,
     * `event_too_large`, `not_an_object`) or a body rule (`invalid_json`, `body_too_large`,
     * `invalid_batch`, `empty_batch`, `too_many_events`). One code is this package's own:
     * `batch_not_supported`, for a valid `{"events":[...]}` batch body (field `events`).
     */
    code: string;
    /** A sentence for the person who sent the event, as the API words it. */
    message: string;
    /** Dotted path of the field concerned (`payload.amount`); absent when none. */
    field?: string;
}

/** The result of `normalize`: the event and its identity, or the first rule it breaks. */
export type NormalizeResult =
| { ok: true; event_hash: string; event: NormalizedEvent }
| { ok: false; error: NormalizeError };



/**
 * Validates and normalizes one event exactly as `POST /events` does, without sending it.
 *
 * `bodyJson` is the request body (one event); `nowMs` the time it is received, in
 * milliseconds since 1970 (`Date.now()`), for the rule that a timestamp may be at most
 * 24 h ahead. The result is `{ ok: true, event_hash, event }` with the server's
 * `event_hash` and `event`, or `{ ok: false, error: { code, message, field? } }` with the
 * error the server would answer.
 *
 * @throws {Error} when `nowMs` is NaN or infinite.
 */
export function normalize(bodyJson: string, nowMs: number): NormalizeResult;

/**
 * The version of this package (and of the rules it carries), e.g. `"0.1.0"`.
 */
export function version(): string;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly normalize: (a: number, b: number, c: number, d: number) => void;
    readonly version: (a: number) => void;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_add_to_stack_pointer: (a: number) => number;
    readonly __wbindgen_export: (a: number, b: number) => number;
    readonly __wbindgen_export2: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_export3: (a: number, b: number, c: number) => void;
    readonly __wbindgen_export4: (a: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;
