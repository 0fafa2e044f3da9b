//! The table's key layout (docs/data-model.md), in one place. `MemoryStore` orders its
//! records by the same sort keys, so both stores list in exactly the same order.

use event_core::{ClientId, EventHash, EventTimestamp, Metric};

use crate::failed_id::FailedIdParts;
use crate::tenancy::{KeyHash, TenantId};
use crate::FailedId;

/// A tenant's own item (client patterns, keys): `T#{t}` / `TENANT`.
pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}
pub const TENANT_SK: &str = "TENANT";

/// The rate limiter's day and minute items live beside the tenant item (`crate::limits`).
pub fn limiter_pk(tenant: &str) -> String {
    format!("T#{tenant}")
}

/// An API key's pointer to its tenant: `K#{sha256 of the key}` / `KEY` (not under a tenant:
/// the key is all a request brings).
pub fn key_pk(hash: &KeyHash) -> String {
    format!("K#{}", hash.as_str())
}
pub const KEY_SK: &str = "KEY";

/// Processed event: `T#{t}#E#{client_id}#{k}`.
pub fn event_pk(tenant: &str, client: &ClientId, k: u32) -> String {
    format!("T#{tenant}#E#{}#{k}", client.as_str())
}

/// Processed event (and its feed entry): `{ts_ns:019}#{event_hash}`. Fixed width, so text
/// order is time order.
pub fn event_sk(timestamp: EventTimestamp, hash: &EventHash) -> String {
    format!("{:019}#{hash}", timestamp.unix_nanos())
}

/// Feed index partition: `T#{t}#D#{k}`.
pub fn feed_pk(tenant: &str, k: u32) -> String {
    format!("T#{tenant}#D#{k}")
}

/// Hourly aggregates: `T#{t}#A#{client_id}#{j}`.
pub fn aggregate_pk(tenant: &str, client: &ClientId, j: u32) -> String {
    format!("T#{tenant}#A#{}#{j}", client.as_str())
}

/// All metrics of one hour: `ALL#{yyyymmddhh}`.
pub fn all_sk(hour_key: &str) -> String {
    format!("ALL#{hour_key}")
}

/// One metric of one hour: `M#{len:03}#{metric}#{yyyymmddhh}`. The byte length keeps one
/// metric's keys from being a prefix range of another's (`M#a#` vs `M#a#b#`).
pub fn metric_sk(metric: &Metric, hour_key: &str) -> String {
    format!(
        "M#{:03}#{}#{hour_key}",
        metric.as_str().len(),
        metric.as_str()
    )
}

/// Failed / rejected record: `T#{t}#F#{k}`.
pub fn failed_pk(tenant: &str, parts: FailedIdParts) -> String {
    format!("T#{tenant}#F#{}", parts.shard)
}

pub fn failed_pk_for_shard(tenant: &str, k: u32) -> String {
    format!("T#{tenant}#F#{k}")
}

/// Failed record (and its by-client index entry): `{received_ns:019}#{failed_id}`.
pub fn failed_sk(id: &FailedId, parts: FailedIdParts) -> String {
    format!("{:019}#{}", parts.received_ns, id.0)
}

/// By-client index partition of failed records: `T#{t}#FC#{client_id}`.
pub fn failed_by_client_pk(tenant: &str, client: &ClientId) -> String {
    format!("T#{tenant}#FC#{}", client.as_str())
}

/// Inclusive bounds on a sort key; `None` is open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkRange {
    pub lo: Option<String>,
    pub hi: Option<String>,
}

impl SkRange {
    pub fn contains(&self, sk: &str) -> bool {
        self.lo.as_deref().is_none_or(|lo| lo <= sk) && self.hi.as_deref().is_none_or(|hi| sk <= hi)
    }

    /// Sort keys `{ns:019}#…` whose time lies in `from <= t < to`; `None` when empty.
    pub fn of_times(from: EventTimestamp, to: EventTimestamp) -> Option<SkRange> {
        if to <= from {
            return None;
        }
        Some(SkRange {
            lo: Some(format!("{:019}", from.unix_nanos())),
            // `~` sorts after every character that can follow `#` in these keys (hex digits,
            // id characters), so this is the largest key of the last nanosecond before `to`.
            hi: Some(format!("{:019}#~", to.unix_nanos() - 1)),
        })
    }
}

/// The time in a `{ns:019}#…` sort key, when it has that shape.
pub fn sk_time(sk: &str) -> Option<i64> {
    let digits = sk.get(..19)?;
    if sk.as_bytes().get(19) != Some(&b'#') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ns: i64) -> EventTimestamp {
        EventTimestamp::from_unix_nanos(ns).unwrap()
    }

    #[test]
    fn time_sort_keys_order_like_time() {
        // As RFC 3339 text `…:00.5Z` sorts before `…:00Z`; fixed-width nanoseconds do not.
        let h = "ab".repeat(32);
        let a = format!("{:019}#{h}", 1_000_000_000i64);
        let b = format!("{:019}#{h}", 1_500_000_000i64);
        let c = format!("{:019}#{h}", 10_000_000_000i64);
        assert!(a < b && b < c);
        assert_eq!(sk_time(&b), Some(1_500_000_000));
        assert_eq!(sk_time("123#x"), None);
    }

    #[test]
    fn time_range_is_half_open() {
        let range = SkRange::of_times(ts(100), ts(200)).unwrap();
        let h = "f".repeat(64);
        let at = |ns: i64| format!("{ns:019}#{h}");
        assert!(range.contains(&at(100)));
        assert!(range.contains(&at(199)));
        assert!(!range.contains(&at(99)));
        assert!(!range.contains(&at(200)));
        assert!(range.contains(&format!(
            "{:019}#{}",
            199, "0000000000000000005-1-ffffffffffffffff"
        )));
        assert_eq!(SkRange::of_times(ts(5), ts(5)), None);
        assert!(SkRange::of_times(EventTimestamp::MIN, EventTimestamp::MAX).is_some());
    }

    #[test]
    fn metric_keys_are_length_prefixed() {
        // (ClientId/Metric constructors live in event-core; the format is what matters here.)
        assert_eq!(
            format!("M#{:03}#{}#{}", 3, "buy", "2026112008"),
            "M#003#buy#2026112008"
        );
    }
}
