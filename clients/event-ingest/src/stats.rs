//! Counters of a run, shared by the reader, the senders and the progress display.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

/// Live counters (relaxed atomics: they are only ever read for display and the report).
#[derive(Debug, Default)]
pub struct Stats {
    /// Bytes read from the inputs (compressed bytes for gzip), for the progress bar.
    pub bytes_read: Arc<AtomicU64>,
    pub records_read: AtomicU64,
    /// Acknowledged in an earlier run: not sent again.
    pub skipped: AtomicU64,
    pub processed: AtomicU64,
    pub duplicate: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    /// Items answered `unavailable` and sent again.
    pub unavailable_resent: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    /// `--dry-run`: valid events whose hash appeared before in the input.
    pub duplicates_in_input: AtomicU64,
    /// Events sent to the server (first sends only).
    pub events_sent: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub bytes_read: u64,
    pub records_read: u64,
    pub skipped: u64,
    pub processed: u64,
    pub duplicate: u64,
    pub rejected: u64,
    pub failed: u64,
    pub unavailable_resent: u64,
    pub requests: u64,
    pub retries: u64,
    pub duplicates_in_input: u64,
    pub events_sent: u64,
}

impl Snapshot {
    /// Records settled by this run: answered for good by the server, or rejected here.
    pub fn settled(&self) -> u64 {
        self.processed + self.duplicate + self.failed + self.rejected
    }
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            bytes_read: get(&self.bytes_read),
            records_read: get(&self.records_read),
            skipped: get(&self.skipped),
            processed: get(&self.processed),
            duplicate: get(&self.duplicate),
            rejected: get(&self.rejected),
            failed: get(&self.failed),
            unavailable_resent: get(&self.unavailable_resent),
            requests: get(&self.requests),
            retries: get(&self.retries),
            duplicates_in_input: get(&self.duplicates_in_input),
            events_sent: get(&self.events_sent),
        }
    }
}
