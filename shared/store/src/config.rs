//! `StoreConfig`: which table, which tenant, the shard counts the table was made with, and
//! the retry budget, read once from the environment at cold start.

use std::time::Duration;

/// How hard a store tries before it reports `StoreError::Unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Attempts per logical operation, the first one included (>= 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time, with full jitter.
    pub base_backoff: Duration,
    /// Upper bound on one backoff sleep.
    pub max_backoff: Duration,
    /// No new attempt starts once this much time has passed since the first one.
    pub max_elapsed: Duration,
    /// One request attempt that takes longer is abandoned and retried. A retried commit can
    /// never count twice (its put is conditional), and it carries the first attempt's
    /// idempotency token, so a commit that did land is still reported processed.
    pub attempt_timeout: Duration,
}

impl Default for RetryBudget {
    /// Sized for a Lambda behind API Gateway (29 s): a commit gives up within about 6 s,
    /// well inside the ingest batch deadline, while riding out short throttling bursts and
    /// hot-item transaction conflicts.
    fn default() -> Self {
        RetryBudget {
            max_attempts: 10,
            base_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(1_000),
            max_elapsed: Duration::from_secs(6),
            attempt_timeout: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub table_name: String,
    /// First component of every key (`T#{tenant}`).
    pub tenant: String,
    /// `S`: partitions per client for processed events (and the feed, and failed records).
    pub event_shards: u32,
    /// `A`: partitions per client for hourly aggregates (spreads hot writers).
    pub aggregate_shards: u32,
    pub retry: RetryBudget,
}

/// Why the environment does not describe a usable store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: it must name the DynamoDB table (the template passes it to every function)")]
    Missing(&'static str),
    #[error("{name} must be a whole number from 1 to {max}, got {value:?}")]
    InvalidCount {
        name: &'static str,
        value: String,
        max: u32,
    },
    #[error("{name} must be 1-64 chars of [A-Za-z0-9._-], got {value:?}")]
    InvalidName { name: &'static str, value: String },
}

/// Shard counts are fixed when the table is made; anything above this is a typo.
const MAX_SHARDS: u32 = 1024;

impl StoreConfig {
    /// Defaults: tenant `default`, 4 event shards, 4 aggregate shards, default retry budget.
    pub fn new(table_name: impl Into<String>) -> Self {
        StoreConfig {
            table_name: table_name.into(),
            tenant: "default".to_owned(),
            event_shards: 4,
            aggregate_shards: 4,
            retry: RetryBudget::default(),
        }
    }

    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    pub fn with_shards(mut self, event_shards: u32, aggregate_shards: u32) -> Self {
        self.event_shards = event_shards.max(1);
        self.aggregate_shards = aggregate_shards.max(1);
        self
    }

    pub fn with_retry(mut self, retry: RetryBudget) -> Self {
        self.retry = retry;
        self
    }

    /// `TABLE_NAME` (required), `TENANT` (default `default`), `EVENT_SHARDS` and
    /// `AGGREGATE_SHARDS` (default 4 each; 1..=1024).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `from_env` over any lookup (tests pass a map instead of touching the process env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = lookup("TABLE_NAME")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing("TABLE_NAME"))?;
        let mut config = StoreConfig::new(table_name);
        if let Some(tenant) = lookup("TENANT").filter(|v| !v.trim().is_empty()) {
            let tenant = tenant.trim().to_owned();
            // `#` would break the key layout (`T#{tenant}#E#...`).
            let ok = tenant.len() <= 64
                && tenant
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(ConfigError::InvalidName {
                    name: "TENANT",
                    value: tenant,
                });
            }
            config.tenant = tenant;
        }
        config.event_shards = shard_count(&lookup, "EVENT_SHARDS", 4)?;
        config.aggregate_shards = shard_count(&lookup, "AGGREGATE_SHARDS", 4)?;
        Ok(config)
    }

    /// A fresh id for a failed record received at `received_at` (see `new_failed_id`).
    pub fn new_failed_id(&self, received_at: event_core::EventTimestamp) -> crate::FailedId {
        crate::new_failed_id(received_at, self.event_shards)
    }
}

fn shard_count(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let Some(value) = lookup(name) else {
        return Ok(default);
    };
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_SHARDS).contains(&n) => Ok(n),
        _ => Err(ConfigError::InvalidCount {
            name,
            value,
            max: MAX_SHARDS,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = StoreConfig::from_lookup(env(&[("TABLE_NAME", "events")])).unwrap();
        assert_eq!(config.table_name, "events");
        assert_eq!(config.tenant, "default");
        assert_eq!((config.event_shards, config.aggregate_shards), (4, 4));
    }

    #[test]
    fn every_setting_is_read() {
        let config = StoreConfig::from_lookup(env(&[
            ("TABLE_NAME", "t1"),
            ("TENANT", "acme"),
            ("EVENT_SHARDS", "8"),
            ("AGGREGATE_SHARDS", " 2 "),
        ]))
        .unwrap();
        assert_eq!(config.tenant, "acme");
        assert_eq!((config.event_shards, config.aggregate_shards), (8, 2));
    }

    #[test]
    fn missing_table_is_a_clear_error() {
        let err = StoreConfig::from_lookup(env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
        assert!(err.to_string().contains("TABLE_NAME is not set"));
        let err = StoreConfig::from_lookup(env(&[("TABLE_NAME", "  ")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TABLE_NAME"));
    }

    #[test]
    fn zero_or_text_shards_are_rejected() {
        for bad in ["0", "four", "-1", "1.5", "", "100000"] {
            let err = StoreConfig::from_lookup(env(&[("TABLE_NAME", "t"), ("EVENT_SHARDS", bad)]))
                .unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("EVENT_SHARDS must be a whole number"),
                "{bad}: {err}"
            );
            let err =
                StoreConfig::from_lookup(env(&[("TABLE_NAME", "t"), ("AGGREGATE_SHARDS", bad)]))
                    .unwrap_err();
            assert!(
                err.to_string().starts_with("AGGREGATE_SHARDS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_tenant_with_a_key_separator_is_rejected() {
        let err =
            StoreConfig::from_lookup(env(&[("TABLE_NAME", "t"), ("TENANT", "a#b")])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::InvalidName { name: "TENANT", .. }
        ));
    }
}
