//! What the rate limiter keeps in the table: a tenant's limits (on its tenant item) and, per
//! tenant and UTC day, one counter item (`T#{t}` / `LIMIT#{yyyy-mm-dd}`) holding the token
//! buckets' state (GCRA: each bucket is the time, in µs, at which it will be full again), the
//! events leased against the daily quota, and the day's accepted and refused counts; per
//! minute, an item with that minute's counts (`LIMIT#M#{yyyy-mm-ddThh:mm}`), for the current rate.
//!
//! The store only applies one conditional step at a time (`TokenTake`); the policy (block
//! sizes, leases, what a refusal answers) is `event-runtime`'s limiter.

/// A tenant's limits as stored. `None`: the deployment's default applies; `Some(0)`: no
/// limit. All count events, except `reads_per_second` (requests to the read routes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    pub rate_per_second: Option<u64>,
    pub burst: Option<u64>,
    pub daily: Option<u64>,
    pub reads_per_second: Option<u64>,
}

/// Which of a tenant's token buckets a take draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Meter {
    /// Events sent to `POST /events`; also counted against the daily quota.
    Events,
    /// Requests to the read routes (listings, aggregates, usage).
    Reads,
}

impl Meter {
    /// The attribute of the day item holding this bucket's state.
    pub fn attribute(self) -> &'static str {
        match self {
            Meter::Events => "tat",
            Meter::Reads => "read_tat",
        }
    }
}

/// One conditional step on a tenant's day item: take `tokens` from `meter`'s bucket (and,
/// for events, from the daily quota), or take nothing and report the item's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTake {
    /// The UTC day, `yyyy-mm-dd`.
    pub day: String,
    pub meter: Meter,
    /// Unix µs.
    pub now_us: i64,
    pub tokens: u64,
    /// `tokens` × the bucket's interval between two tokens (1 s / rate), in µs.
    pub cost_us: i64,
    /// How far the bucket's time may run ahead of now: burst × interval. A take larger than
    /// that fits only a full bucket (it then borrows against the next seconds).
    pub tolerance_us: i64,
    /// Events of the day at most (events meter only).
    pub quota: Option<u64>,
    /// Quota tokens of earlier takes that went unused, handed back in the same write.
    pub give_back: u64,
    /// The caller believes the bucket is full (its time is past): try that form first.
    pub idle_hint: bool,
    /// Unix seconds after which the item may be deleted (TTL).
    pub expires_at: i64,
}

/// What a take found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOutcome {
    /// Taken; the bucket's new time (µs) and the day's leased events after the take.
    Taken { tat_us: i64, leased: u64 },
    /// Nothing taken: the bucket or the quota has no room; the item as it was.
    Refused(DayCounter),
}

/// A tenant's day item as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounter {
    /// The events bucket's time (µs); `None`: not used today.
    pub tat_us: Option<i64>,
    pub read_tat_us: Option<i64>,
    /// Events taken from the daily quota today (handed-back tokens subtracted).
    pub leased: u64,
    /// Events accepted and refused today, as flushed by the function instances.
    pub accepted: u64,
    pub refused: u64,
}

impl DayCounter {
    pub fn tat(&self, meter: Meter) -> Option<i64> {
        match meter {
            Meter::Events => self.tat_us,
            Meter::Reads => self.read_tat_us,
        }
    }
}

/// Counts one function instance adds to a tenant's day and minute items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub day: String,
    /// The UTC minute, `yyyy-mm-ddThh:mm`.
    pub minute: String,
    pub accepted: u64,
    pub refused: u64,
    /// Unix seconds after which the items may be deleted (TTL).
    pub expires_at: i64,
}

/// What `GET /usage` reads: the day item and the last two minutes' counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub day: DayCounter,
    /// Events accepted in the minute before the current one, and in the current one so far.
    pub previous_minute_accepted: u64,
    pub current_minute_accepted: u64,
}

/// Sort key of a tenant's day item.
pub fn day_sk(day: &str) -> String {
    format!("LIMIT#{day}")
}

/// Sort key of a tenant's minute item.
pub fn minute_sk(minute: &str) -> String {
    format!("LIMIT#M#{minute}")
}

/// How a take fares on an item in state `found` (the rule both stores apply, the DynamoDB
/// one as two conditional updates): the new bucket time, or `None` when there is no room.
pub fn apply(take: &TokenTake, found: &DayCounter) -> Option<i64> {
    if let Some(quota) = take.quota {
        if found.leased + take.tokens > quota + take.give_back {
            return None;
        }
    }
    match found.tat(take.meter) {
        Some(tat) if tat >= take.now_us => {
            (tat + take.cost_us <= take.now_us + take.tolerance_us).then_some(tat + take.cost_us)
        }
        // A full bucket (never used, or its time is past): any take fits, even one larger
        // than the burst.
        _ => Some(take.now_us + take.cost_us),
    }
}
