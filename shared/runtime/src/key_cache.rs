//! What API keys resolved to when they were last read, kept for a while in the warm function
//! so most requests pay no DynamoDB read for their key (`AUTH_CACHE_SECONDS`). By hash only:
//! the cache never holds a key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_store::KeyHash;

use crate::caller::Caller;

/// Keys remembered at most; past this the cache starts over (random keys cannot grow it).
const MAX_CACHED_KEYS: usize = 10_000;

/// What one key resolved to when it was read: `None` for a key that is not usable.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub(crate) read_at: Instant,
    pub(crate) grant: Option<Arc<Grant>>,
}

/// A key that exists, with its tenant's caller and the key's own state.
pub(crate) struct Grant {
    pub(crate) caller: Arc<Caller>,
    /// Unix seconds; checked on every request, so an expiry is exact even while cached.
    pub(crate) expires_at: Option<i64>,
    pub(crate) revoked: bool,
}

/// Keys read recently, by hash (never the key itself).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<KeyHash, Resolved>>,
}

impl KeyCache {
    pub(crate) fn get(&self, hash: &KeyHash, ttl: Duration) -> Option<Resolved> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|entry| entry.read_at.elapsed() < ttl)
            .cloned()
    }

    pub(crate) fn put(&self, hash: KeyHash, resolved: Resolved, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.retain(|_, entry| entry.read_at.elapsed() < ttl);
            if entries.len() >= MAX_CACHED_KEYS {
                entries.clear();
            }
        }
        entries.insert(hash, resolved);
    }
}
