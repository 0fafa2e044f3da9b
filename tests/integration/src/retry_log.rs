//! What the functions under test logged about their store retries, read back from the
//! watcher's log (`ProxiedFunctions::retry_log`): how often they retried, after which fault,
//! and how often an operation spent its whole retry budget.

use std::collections::{BTreeMap, HashMap};

/// What the functions logged about their store retries (`RUST_LOG` debug for the retry
/// module): "transient fault, retrying" and "retry budget spent" lines.
#[derive(Debug, Clone, Default)]
pub struct RetryLog {
    /// In-process retries (attempts after a transient fault).
    pub retries: u64,
    pub by_operation: BTreeMap<String, u64>,
    /// The fault each retry followed, reduced to its kind.
    pub by_reason: BTreeMap<String, u64>,
    /// Operations that gave up (`StoreError::Unavailable`).
    pub budget_spent: u64,
    /// Retries per event hash, for requests that carried one event.
    pub per_event: HashMap<String, u64>,
}

impl RetryLog {
    /// `by_operation`, for a report line: `commit 3, put failed 1`.
    pub fn by_operation_line(&self) -> String {
        counts_line(&self.by_operation)
    }

    /// `by_reason`, for a report line: `Throttling 2, attempt timeout 1`.
    pub fn by_reason_line(&self) -> String {
        counts_line(&self.by_reason)
    }

    /// Reads the retry lines of a watcher's log.
    pub fn parse(text: &str) -> Self {
        let mut log = RetryLog::default();
        for line in text.lines() {
            let spent = line.contains("\"retry budget spent\"");
            if !spent && !line.contains("\"transient fault, retrying\"") {
                continue;
            }
            let Some(start) = line.find('{') else {
                continue;
            };
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line[start..]) else {
                continue;
            };
            if spent {
                log.budget_spent += 1;
                continue;
            }
            log.retries += 1;
            let operation = entry["operation"].as_str().unwrap_or("?").to_owned();
            *log.by_operation.entry(operation).or_default() += 1;
            let reason = entry["reason"].as_str().unwrap_or("");
            *log.by_reason
                .entry(reason_kind(reason).to_owned())
                .or_default() += 1;
            if let Some(hash) = entry["span"]["event_hash"].as_str() {
                *log.per_event.entry(hash.to_owned()).or_default() += 1;
            }
        }
        log
    }
}

/// `name n, name n, …`
fn counts_line(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reason_kind(reason: &str) -> &'static str {
    const KINDS: [(&str, &str); 8] = [
        ("TransactionConflict", "TransactionConflict"),
        (
            "ProvisionedThroughputExceeded",
            "ProvisionedThroughputExceeded",
        ),
        ("Throttling", "Throttling"),
        ("InternalServerError", "InternalServerError"),
        ("timeout", "attempt timeout"),
        ("timed out", "attempt timeout"),
        ("dispatch", "connection failure"),
        ("response", "broken answer"),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| reason.contains(needle))
        .map(|(_, kind)| *kind)
        .unwrap_or("other")
}
