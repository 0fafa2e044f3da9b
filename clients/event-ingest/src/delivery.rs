//! Delivering one batch: the request with its retries, the per-event outcomes recorded in
//! the input's progress, and the resends of items answered `unavailable`; and the shared
//! pieces every delivery of a run sees (the progress, the stop, the retry observer).

use std::sync::Mutex;
use std::time::Duration;

use crate::aimd::Aimd;
use crate::batch::{body_of, Batch};
use crate::client::{ApiError, Client, Outcome, RetryObserver};
use crate::record::ValidEvent;
use crate::sender::Ending;
use crate::state::{FailedEvent, InputState};
use crate::stats::Stats;

/// Progress of one input shared by its deliveries and the state saver.
pub(crate) struct Tracker {
    pub(crate) state: Mutex<InputState>,
    pub(crate) dirty: std::sync::atomic::AtomicBool,
}

impl Tracker {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, InputState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub(crate) fn changed(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A stop that ends every delivery: the first one wins.
#[derive(Default)]
pub(crate) struct Stop {
    reason: Mutex<Option<(Ending, String)>>,
    stopped: tokio::sync::Notify,
}

impl Stop {
    pub(crate) fn set(&self, ending: Ending, message: String) {
        let mut reason = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if reason.is_none() {
            *reason = Some((ending, message));
        }
        drop(reason);
        self.stopped.notify_waiters();
    }

    /// Resolves once the run is stopped.
    pub(crate) async fn wait(&self) {
        loop {
            // Created before the check, so a stop between the two still wakes it.
            let stopped = self.stopped.notified();
            if self.get().is_some() {
                return;
            }
            stopped.await;
        }
    }

    pub(crate) fn get(&self) -> Option<(Ending, String)> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Counts retries and lowers the concurrency on 429/503.
pub(crate) struct Observer<'a> {
    pub(crate) stats: &'a Stats,
    pub(crate) aimd: &'a Aimd,
}

impl RetryObserver for Observer<'_> {
    fn on_retry(&self, error: &ApiError, _wait: Duration) {
        Stats::add(&self.stats.retries, 1);
        if error.is_overload() {
            self.aimd.on_overload();
        }
    }
}

/// Deliver one batch until every event is answered for good, or the run stops.
pub(crate) async fn deliver(
    client: &Client,
    batch: Batch,
    stats: &Stats,
    tracker: &Tracker,
    aimd: &Aimd,
    stop: &Stop,
) {
    let policy = client.retry_policy();
    let observer = Observer { stats, aimd };
    let mut pending: Vec<ValidEvent> = batch.events;
    Stats::add(&stats.events_sent, pending.len() as u64);
    let mut rounds = 0;
    loop {
        if stop.get().is_some() {
            return;
        }
        // One copy of the body for every attempt (`Bytes` clones share it).
        let body = bytes::Bytes::from(body_of(pending.iter()));
        let count = pending.len();
        let answer = client
            .with_retries(
                || {
                    Stats::add(&stats.requests, 1);
                    client.post_batch_once(body.clone(), count)
                },
                &observer,
            )
            .await;
        let outcomes = match answer {
            Ok(outcomes) => outcomes,
            Err(error @ ApiError::KeyRefused { .. }) => {
                stop.set(Ending::KeyRefused, error.to_string());
                return;
            }
            Err(error) if error.is_retryable() => {
                stop.set(
                    Ending::GaveUp,
                    format!("gave up after {} attempts: {error}", policy.max_attempts),
                );
                return;
            }
            Err(error) => {
                // A 4xx for a body we built within the limits: every item failed, for good.
                record_refused(&pending, &error, stats, tracker);
                return;
            }
        };
        let mut again = Vec::new();
        {
            let mut progress = tracker.lock();
            for (event, outcome) in pending.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Processed { .. } => {
                        progress.counts.processed += 1;
                        Stats::add(&stats.processed, 1);
                    }
                    Outcome::Duplicate { .. } => {
                        progress.counts.duplicate += 1;
                        Stats::add(&stats.duplicate, 1);
                    }
                    Outcome::Failed {
                        failed_id,
                        code,
                        message,
                        retryable,
                    } => {
                        progress.counts.failed += 1;
                        Stats::add(&stats.failed, 1);
                        progress.failed.push(FailedEvent {
                            record: event.record,
                            failed_id,
                            code,
                            message,
                            retryable,
                        });
                    }
                    Outcome::Unavailable { .. } => {
                        again.push(event);
                        continue;
                    }
                }
                progress.acknowledged.insert(event.record);
            }
        }
        tracker.changed();
        if again.is_empty() {
            aimd.on_success();
            return;
        }
        // Storage could not take these: the server is struggling, so slow down, then
        // resend the same events (same text, same hash: at worst duplicates).
        aimd.on_overload();
        rounds += 1;
        if rounds >= policy.max_attempts {
            stop.set(
                Ending::GaveUp,
                format!(
                    "{} events stayed unavailable after {rounds} resends",
                    again.len()
                ),
            );
            return;
        }
        Stats::add(&stats.unavailable_resent, again.len() as u64);
        Stats::add(&stats.retries, 1);
        let wait = policy.backoff(rounds, fastrand::f64()).max(policy.base);
        tokio::time::sleep(wait).await;
        pending = again;
    }
}

fn record_refused(pending: &[ValidEvent], error: &ApiError, stats: &Stats, tracker: &Tracker) {
    let (code, message) = match error {
        ApiError::Refused { code, message, .. } => (code.clone(), message.clone()),
        other => ("refused".to_owned(), other.to_string()),
    };
    let mut progress = tracker.lock();
    for event in pending {
        progress.counts.failed += 1;
        Stats::add(&stats.failed, 1);
        progress.failed.push(FailedEvent {
            record: event.record,
            failed_id: None,
            code: code.clone(),
            message: message.clone(),
            retryable: false,
        });
        progress.acknowledged.insert(event.record);
    }
    tracker.changed();
}
