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
