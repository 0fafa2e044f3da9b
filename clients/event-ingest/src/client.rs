//! The HTTP client of the API: one typed call per operation, the API's own codes and
//! statuses in the answers, and the retry rules of `retry` applied to every request.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::retry::{Decision, RetryPolicy};

/// What became of one event, in the API's words (docs/contract.md, "Outcomes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// New: stored and counted.
    Processed { event_hash: String },
    /// Already counted: nothing changed.
    Duplicate { event_hash: String },
    /// Not counted. Kept under `failed_id` when the server kept it (rejected, or failed and
    /// `retryable`); `client_not_allowed` has no record.
    Failed {
        failed_id: Option<String>,
        code: String,
        message: String,
        retryable: bool,
    },
    /// Neither counted nor kept: resend it (a resend is safe, at worst a duplicate).
    Unavailable { code: String, message: String },
}

/// Why a request got no per-event answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 401 or 403 on the request as a whole: no request with this key can succeed.
    #[error("the API key was refused ({status}): {message}")]
    KeyRefused { status: u16, message: String },
    /// 429 or 503: the server (or its gateway) is overloaded or its storage is down.
    #[error("the server is busy ({status}){}", retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Another 5xx.
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer: connection refused or reset, timeout.
    #[error("no answer from the server: {message}")]
    Transport { message: String, timeout: bool },
    /// Another 4xx: the same request would get the same answer.
    #[error("the server refused the request ({status} {code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer we cannot read.
    #[error("unexpected answer ({status}): {message}")]
    Protocol { status: u16, message: String },
    /// A configuration mistake found before sending anything (a bad URL).
    #[error("{0}")]
    Config(String),
}

impl ApiError {
    /// Whether trying the same request again can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Throttled { .. } | ApiError::Server { .. } | ApiError::Transport { .. }
        )
    }

    /// The wait the server asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A 429 with a short `Retry-After`: the server pacing this client to a tenant's rate
    /// limit, not a failure. Waiting it out does not spend an attempt (a daily quota's 429,
    /// which points hours ahead, does, and ends the run with its state saved).
    pub fn is_pacing(&self) -> bool {
        matches!(
            self,
            ApiError::Throttled {
                status: 429,
                retry_after: Some(wait),
            } if *wait <= MAX_PACING_WAIT
        )
    }

    /// 429 or 503: the concurrency should drop.
    pub fn is_overload(&self) -> bool {
        matches!(self, ApiError::Throttled { .. })
    }
}

/// Told about every retry (for counters and the concurrency limit).
pub trait RetryObserver: Sync {
    fn on_retry(&self, _error: &ApiError, _wait: Duration) {}
}

/// The longest `Retry-After` of a 429 that counts as pacing (`ApiError::is_pacing`).
pub const MAX_PACING_WAIT: Duration = Duration::from_secs(60);

/// Pacing rounds one request waits out at most (an hour at 1 s each, `--max-time` aside).
const MAX_PACING_ROUNDS: u32 = 3600;

/// Observes nothing.
pub struct NoObserver;
impl RetryObserver for NoObserver {}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: String,
    timeout: Duration,
    policy: RetryPolicy,
}

impl ClientBuilder {
    /// How long one request may take before it counts as a timeout (default 60 s: the
    /// server answers within 20 s, its gateway within 29 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn build(self) -> Result<Client, ApiError> {
        let base = self.base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| ApiError::Config(format!("the URL {base:?} is not valid: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ApiError::Config(format!(
                "the URL {base:?} must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("event-ingest/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            api_key: self.api_key,
            policy: self.policy,
            paused_until: Arc::default(),
        })
    }
}

/// A client of one deployment, with one API key. Cheap to clone; clones share the pause a
/// `Retry-After` asks for.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: String,
    policy: RetryPolicy,
    /// No request starts before this: a 429/503 with `Retry-After` speaks for the whole
    /// server, not just for the request it answered.
    paused_until: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Client").field("base", &self.base).finish()
    }
}

/// One page of `GET /events/failed`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FailedPage {
    pub items: Vec<FailedRecord>,
    pub next_cursor: Option<String>,
}

/// A kept failed or rejected event.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FailedRecord {
    pub failed_id: String,
    #[serde(default)]
    pub client_id: Option<String>,
    pub reason: Reason,
    #[serde(default)]
    pub raw: String,
    #[serde(default)]
    pub raw_truncated: bool,
    pub received_at: String,
    pub attempts: u64,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The selection of `POST /events/failed/retry` (every field optional).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplaySelection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One page of answers of `POST /events/failed/retry`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReplayPage {
    pub results: Vec<ReplayResult>,
    pub next_cursor: Option<String>,
}

/// What became of one replayed record.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReplayResult {
    pub failed_id: String,
    /// processed, duplicate, failed, unavailable or skipped.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_hash: Option<String>,
}

/// The query of `GET /aggregates` and `GET /aggregates/hourly`.
#[derive(Debug, Clone, Default)]
pub struct StatsQuery {
    pub client_id: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub metric: Option<String>,
    pub hourly: bool,
}

#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    index: usize,
    status: String,
    #[serde(default)]
    event_hash: Option<String>,
    #[serde(default)]
    error: Option<ErrorDetail>,
    #[serde(default)]
    failed_id: Option<String>,
    #[serde(default)]
    retryable: Option<bool>,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A whole answer, read before it is interpreted.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Result<Value, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::Protocol {
            status: self.status.as_u16(),
            message: format!("the body is not JSON ({e})"),
        })
    }

    /// The error body's code and sentence; the gateway's `{"message"}` too.
    fn error_detail(&self) -> (String, String) {
        let value: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let code = value["error"]["code"].as_str().unwrap_or("").to_owned();
        let message = value["error"]["message"]
            .as_str()
            .or_else(|| value["message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(300)
                    .collect()
            });
        (code, message)
    }

    /// The error every non-answer status means (the callers handle their success statuses first).
    fn into_error(self) -> ApiError {
        let status = self.status.as_u16();
        let (code, message) = self.error_detail();
        match status {
            401 | 403 => ApiError::KeyRefused { status, message },
            429 | 503 => ApiError::Throttled {
                status,
                retry_after: retry_after(&self.headers),
            },
            500..=599 => ApiError::Server { status, message },
            _ => ApiError::Refused {
                status,
                code,
                message,
            },
        }
    }
}

/// `Retry-After` in seconds (the form this API sends).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Client {
    pub fn builder(base_url: impl Into<String>, api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: api_key.into(),
            timeout: Duration::from_secs(60),
            policy: RetryPolicy::default(),
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Run `attempt` until it succeeds, its error is final, or the attempts are spent,
    /// waiting between attempts as `retry` says.
    pub async fn with_retries<T, F, Fut>(
        &self,
        mut attempt: F,
        observer: &dyn RetryObserver,
    ) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut attempts = 0;
        let mut paced = 0;
        loop {
            attempts += 1;
            self.wait_for_pause().await;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if let Some(wait) = error.retry_after() {
                self.pause_for(wait);
            }
            // A rate limit's 429 says when to come back: the request is slowed, not failing.
            if error.is_pacing() && paced < MAX_PACING_ROUNDS {
                paced += 1;
                attempts -= 1;
            }
            match self.policy.decide(attempts.max(1), &error, fastrand::f64()) {
                Decision::GiveUp => return Err(error),
                Decision::RetryAfter(wait) => {
                    tracing::debug!(%error, wait_ms = wait.as_millis() as u64, attempts, "retrying");
                    observer.on_retry(&error, wait);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The key as a header value marked sensitive, so no debug output of the request shows it.
    fn key_header(&self) -> Result<reqwest::header::HeaderValue, ApiError> {
        let mut value = reqwest::header::HeaderValue::from_str(&self.api_key).map_err(|_| {
            ApiError::Config("the API key holds characters a header cannot carry".to_owned())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sleep until the pause a `Retry-After` asked for is over.
    async fn wait_for_pause(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<bytes::Bytes>,
    ) -> Result<Answer, ApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path_and_query))
            .header("x-api-key", self.key_header()?);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let transport = |e: reqwest::Error| ApiError::Transport {
            timeout: e.is_timeout(),
            // Without the URL: it is ours, and the message stays short.
            message: {
                let mut causes = String::new();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    causes.push_str(": ");
                    causes.push_str(&cause.to_string());
                    source = cause.source();
                }
                format!("{}{causes}", e.without_url())
            },
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// One `POST /events` of a batch body (`batch::body_of`), one attempt: one outcome per
    /// item, in order.
    pub async fn post_batch_once(
        &self,
        body: bytes::Bytes,
        items: usize,
    ) -> Result<Vec<Outcome>, ApiError> {
        let answer = self
            .request(reqwest::Method::POST, "/events", Some(body))
            .await?;
        if answer.status != StatusCode::OK {
            return Err(answer.into_error());
        }
        let parsed: BatchAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| ApiError::Protocol {
                status: 200,
                message: format!("not a batch answer ({e})"),
            })?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items];
        for item in parsed.results {
            let slot = outcomes
                .get_mut(item.index)
                .ok_or_else(|| ApiError::Protocol {
                    status: 200,
                    message: format!("a result for item {} of {items}", item.index),
                })?;
            *slot = Some(batch_item_outcome(item));
        }
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                o.ok_or_else(|| ApiError::Protocol {
                    status: 200,
                    message: format!("no result for item {i}"),
                })
            })
            .collect()
    }

    /// Send a batch (at most 500 events, 1 MiB), retrying the request as a whole on 429,
    /// 503, other 5xx and transport errors. Items answered `unavailable` are the caller's
    /// to resend (`Sender` does).
    pub async fn send_batch(&self, events: &[&RawValue]) -> Result<Vec<Outcome>, ApiError> {
        let mut body = Vec::new();
        body.extend_from_slice(br#"{"events":["#);
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(event.get().as_bytes());
        }
        body.extend_from_slice(b"]}");
        let body = bytes::Bytes::from(body);
        self.with_retries(
            || self.post_batch_once(body.clone(), events.len()),
            &NoObserver,
        )
        .await
    }

    /// Send one event, retrying as `send_batch` does (a 503 is resent after `Retry-After`).
    pub async fn send(&self, event: &RawValue) -> Result<Outcome, ApiError> {
        self.with_retries(
            || async {
                let answer = self
                    .request(
                        reqwest::Method::POST,
                        "/events",
                        Some(bytes::Bytes::copy_from_slice(event.get().as_bytes())),
                    )
                    .await?;
                single_outcome(answer)
            },
            &NoObserver,
        )
        .await
    }

    /// `POST /events/failed/{id}/retry`, with retries.
    pub async fn retry_failed(&self, failed_id: &str) -> Result<Outcome, ApiError> {
        self.with_retries(|| self.retry_failed_once(failed_id), &NoObserver)
            .await
    }

    /// `POST /events/failed/{id}/retry`, one attempt.
    pub async fn retry_failed_once(&self, failed_id: &str) -> Result<Outcome, ApiError> {
        let path = format!("/events/failed/{}/retry", encode(failed_id));
        let answer = self.request(reqwest::Method::POST, &path, None).await?;
        single_outcome(answer)
    }

    /// One page of `POST /events/failed/retry`, one attempt.
    pub async fn replay_failed_once(
        &self,
        selection: &ReplaySelection,
    ) -> Result<ReplayPage, ApiError> {
        let body =
            bytes::Bytes::from(serde_json::to_vec(selection).expect("a selection serializes"));
        let answer = self
            .request(reqwest::Method::POST, "/events/failed/retry", Some(body))
            .await?;
        if answer.status != StatusCode::OK {
            return Err(answer.into_error());
        }
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Protocol {
            status: 200,
            message: format!("not a replay answer ({e})"),
        })
    }

    /// One page of `GET /events/failed`, with retries.
    pub async fn list_failed(
        &self,
        client_id: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<FailedPage, ApiError> {
        let mut query = Vec::new();
        if let Some(client) = client_id {
            query.push(format!("client_id={}", encode(client)));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(cursor) = cursor {
            query.push(format!("cursor={}", encode(cursor)));
        }
        let path = format!("/events/failed?{}", query.join("&"));
        let value = self.get_json(&path).await?;
        serde_json::from_value(value).map_err(|e| ApiError::Protocol {
            status: 200,
            message: format!("not a page of failed events ({e})"),
        })
    }

    /// `GET /aggregates` (or `/aggregates/hourly`) as the server answered it.
    pub async fn aggregates(&self, query: &StatsQuery) -> Result<Value, ApiError> {
        let mut params = vec![format!("client_id={}", encode(&query.client_id))];
        for (name, value) in [
            ("from", &query.from),
            ("to", &query.to),
            ("metric", &query.metric),
        ] {
            if let Some(value) = value {
                params.push(format!("{name}={}", encode(value)));
            }
        }
        let route = if query.hourly {
            "/aggregates/hourly"
        } else {
            "/aggregates"
        };
        self.get_json(&format!("{route}?{}", params.join("&")))
            .await
    }

    async fn get_json(&self, path: &str) -> Result<Value, ApiError> {
        self.with_retries(
            || async {
                let answer = self.request(reqwest::Method::GET, path, None).await?;
                if answer.status != StatusCode::OK {
                    return Err(answer.into_error());
                }
                answer.json()
            },
            &NoObserver,
        )
        .await
    }
}

fn batch_item_outcome(item: BatchItem) -> Outcome {
    let error = item.error.unwrap_or_default();
    match item.status.as_str() {
        "processed" => Outcome::Processed {
            event_hash: item.event_hash.unwrap_or_default(),
        },
        "duplicate" => Outcome::Duplicate {
            event_hash: item.event_hash.unwrap_or_default(),
        },
        "unavailable" => Outcome::Unavailable {
            code: error.code,
            message: error.message,
        },
        _ => Outcome::Failed {
            failed_id: item.failed_id,
            code: error.code,
            message: error.message,
            retryable: item.retryable.unwrap_or(false),
        },
    }
}

/// The outcome of one event from a single-event answer (`POST /events`, a retry).
fn single_outcome(answer: Answer) -> Result<Outcome, ApiError> {
    let status = answer.status.as_u16();
    match status {
        200 | 201 => {
            let value = answer.json()?;
            let event_hash = value["event_hash"].as_str().unwrap_or("").to_owned();
            Ok(if value["status"] == "duplicate" {
                Outcome::Duplicate { event_hash }
            } else {
                Outcome::Processed { event_hash }
            })
        }
        422 | 500 => {
            let value = answer.json().unwrap_or(Value::Null);
            match value["failed_id"].as_str() {
                Some(failed_id) => Ok(Outcome::Failed {
                    failed_id: Some(failed_id.to_owned()),
                    code: value["error"]["code"].as_str().unwrap_or("").to_owned(),
                    message: value["error"]["message"].as_str().unwrap_or("").to_owned(),
                    retryable: value["retryable"].as_bool().unwrap_or(status == 500),
                }),
                None => Err(answer.into_error()),
            }
        }
        _ => Err(answer.into_error()),
    }
}

/// Percent-encode a query value or path segment (RFC 3986 unreserved characters stay).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn client() -> Client {
        Client::builder(
            "http://127.0.0.1:1",
            "eik_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .build()
        .unwrap()
    }

    /// Answers `error` `times` times, then succeeds.
    async fn refused_then_ok(error: fn() -> ApiError, times: u32) -> Result<u32, ApiError> {
        let calls = AtomicU32::new(0);
        client()
            .with_retries(
                || async {
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    if n <= times {
                        Err(error())
                    } else {
                        Ok(n)
                    }
                },
                &NoObserver,
            )
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limits_429s_slow_a_request_down_without_spending_its_attempts() {
        let pacing = || ApiError::Throttled {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
        };
        // Thirty refusals with Retry-After 1 s, three times the attempts of the policy.
        assert_eq!(refused_then_ok(pacing, 30).await.unwrap(), 31);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quotas_429_and_other_overloads_spend_attempts() {
        let quota = || ApiError::Throttled {
            status: 429,
            retry_after: Some(Duration::from_secs(3600)),
        };
        let unavailable = || ApiError::Throttled {
            status: 503,
            retry_after: Some(Duration::from_secs(1)),
        };
        assert!(refused_then_ok(quota, 30).await.is_err());
        assert!(refused_then_ok(unavailable, 30).await.is_err());
    }
}
