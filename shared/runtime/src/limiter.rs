//! Per-tenant rate limits and daily quotas, enforced across every warm instance at a small
//! price in writes.
//!
//! Each tenant has, per UTC day, one counter item in the table (`event_store::limits`): a
//! GCRA token bucket (sustained rate + burst) for events and one for read requests, and
//! the events leased against the daily quota. An instance does not ask that item for every
//! request: it **leases** tokens in blocks with one conditional write, spends them locally
//! for at most `LEASE_US`, and hands unused quota tokens back in its next write. Every token
//! an instance spends was taken from the shared bucket, so the fleet as a whole never
//! admits more than the bucket allows, except that a token may be spent up to `LEASE_US`
//! after it was taken: over any window of T seconds the fleet admits at most
//! rate × (T + 1 s) + burst events, whatever the number of instances (10 % over rate × T for
//! T = 10 s). Blocks adapt to each instance's own demand (doubling while it uses them up,
//! halving while they expire unused), so idle instances hold few tokens.
//!
//! When the limiter's storage fails, the request is admitted (fail-open) by a bucket of
//! this instance's own, at the tenant's rate, and storage is left alone for a second:
//! the limiter protects shared capacity and must not turn its own outage into lost events
//! (docs/contract.md says why). Tenants without limits never reach any of this.

use std::collections::HashMap;
use std::sync::Mutex;

use event_core::EventTimestamp;
use event_http::metrics::{count_limiter, LimiterCount};
use event_http::{ApiError, ErrorCode, Reply};
use event_store::{
    limits, DayCounter, Meter, Store, TakeOutcome, TenantId, TenantLimits, TokenTake, UsageDelta,
};
use lambda_http::http::{HeaderMap, HeaderValue};

const SECOND_US: i64 = 1_000_000;
const DAY_US: i64 = 86_400 * SECOND_US;
/// How long leased tokens stay spendable.
pub const LEASE_US: i64 = SECOND_US;
/// The largest block one lease takes (a batch takes at least its own size).
const MAX_BLOCK: u64 = 100;
/// Accepted and refused counts reach the table at least this often per active instance.
const FLUSH_EVERY_US: i64 = 10 * SECOND_US;
/// After a storage failure the limiter leaves storage alone this long.
const STORAGE_PAUSE_US: i64 = SECOND_US;
/// Counter items outlive their day by this much (TTL), for yesterday's `/usage`.
const KEEP_DAYS: i64 = 2;

/// A token bucket: `per_second` tokens a second, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u64,
    pub burst: u64,
}

impl Bucket {
    fn interval_us(self) -> i64 {
        (SECOND_US as u64).div_ceil(self.per_second.max(1)) as i64
    }

    fn tolerance_us(self) -> i64 {
        self.interval_us().saturating_mul(self.burst as i64)
    }

    /// The largest block an instance leases: a quarter of a second's tokens, half the burst.
    fn block_cap(self) -> u64 {
        (self.per_second / 4)
            .min(self.burst / 2)
            .clamp(1, MAX_BLOCK)
    }
}

/// The limits in force for a tenant: its own, else the deployment's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Events per second and burst; `None`: no rate limit.
    pub events: Option<Bucket>,
    /// Events per UTC day; `None`: no quota.
    pub daily: Option<u64>,
    /// Read requests per second (burst: twice that); `None`: none.
    pub reads: Option<Bucket>,
}

/// The deployment's defaults for tenants that set none (`DEFAULT_RATE_PER_SECOND`,
/// `DEFAULT_BURST`, `DEFAULT_DAILY_QUOTA`, `DEFAULT_READS_PER_SECOND`; 0: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitDefaults {
    pub rate_per_second: u64,
    pub burst: u64,
    pub daily: u64,
    pub reads_per_second: u64,
}

impl Limits {
    pub fn resolve(own: &TenantLimits, defaults: &LimitDefaults) -> Self {
        let rate = own.rate_per_second.unwrap_or(defaults.rate_per_second);
        let burst = own.burst.unwrap_or(defaults.burst);
        let daily = own.daily.unwrap_or(defaults.daily);
        let reads = own.reads_per_second.unwrap_or(defaults.reads_per_second);
        Limits {
            // A rate without a burst allows one second's worth at once.
            events: (rate > 0).then_some(Bucket {
                per_second: rate,
                burst: if burst > 0 { burst } else { rate },
            }),
            daily: (daily > 0).then_some(daily),
            reads: (reads > 0).then_some(Bucket {
                per_second: reads,
                burst: reads.saturating_mul(2),
            }),
        }
    }

    /// The bucket and quota `meter` draws from (no rate: a bucket that never runs dry).
    fn of(&self, meter: Meter) -> Option<(Option<Bucket>, Option<u64>)> {
        match meter {
            Meter::Events if self.events.is_none() && self.daily.is_none() => None,
            Meter::Events => Some((self.events, self.daily)),
            Meter::Reads => self.reads.map(|bucket| (Some(bucket), None)),
        }
    }
}

/// A tenant's state as the headers of an answer tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    pub meter: Meter,
    pub bucket: Option<Bucket>,
    /// Tokens available now, and seconds until the bucket is full.
    pub remaining: u64,
    pub full_in_seconds: u64,
    pub daily: Option<u64>,
    pub daily_remaining: u64,
    pub seconds_to_midnight: u64,
}

impl LimitState {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers): policy
    /// `rate` (the burst, refilled over `w` seconds) and `daily` (the day's quota). Quota
    /// units are events for `POST /events` and requests for the read routes.
    pub fn insert_headers(&self, headers: &mut HeaderMap) {
        let mut policy = Vec::new();
        let mut state = Vec::new();
        if let Some(bucket) = self.bucket {
            let window = bucket.burst.div_ceil(bucket.per_second).max(1);
            policy.push(format!("\"rate\";q={};w={window}", bucket.burst));
            state.push(format!(
                "\"rate\";r={};t={}",
                self.remaining, self.full_in_seconds
            ));
        }
        if let Some(daily) = self.daily {
            policy.push(format!("\"daily\";q={daily};w=86400"));
            state.push(format!(
                "\"daily\";r={};t={}",
                self.daily_remaining, self.seconds_to_midnight
            ));
        }
        for (name, values) in [("ratelimit-policy", policy), ("ratelimit", state)] {
            if let Ok(value) = HeaderValue::from_str(&values.join(", ")) {
                if !values.is_empty() {
                    headers.insert(name, value);
                }
            }
        }
    }
}

/// `answer` with the `RateLimit` headers of `state` (errors included, turned into their
/// response here); unchanged for a tenant without limits.
pub fn with_limit_headers(
    state: Option<LimitState>,
    answer: Result<Reply, ApiError>,
    request_id: &str,
) -> Result<Reply, ApiError> {
    let Some(state) = state else {
        return answer;
    };
    let mut reply = answer.unwrap_or_else(|error| Reply {
        outcome: error.code(),
        response: error.into_response(request_id),
    });
    state.insert_headers(reply.response.headers_mut());
    Ok(reply)
}

/// What the limiter decided for one request.
#[derive(Debug)]
pub enum Admission {
    /// The tenant has no limit on this meter: nothing was read or written.
    Unlimited,
    Admitted(LimitState),
    /// 429: nothing may be written for the request.
    Refused {
        error: ApiError,
        state: LimitState,
    },
}

impl Admission {
    pub fn state(&self) -> Option<&LimitState> {
        match self {
            Admission::Unlimited => None,
            Admission::Admitted(state) | Admission::Refused { state, .. } => Some(state),
        }
    }
}

/// One instance's lease on one tenant's bucket.
#[derive(Debug, Default)]
struct Lease {
    day: String,
    /// Tokens taken and not yet spent, spendable until `expires_us`.
    left: u64,
    expires_us: i64,
    /// The next lease's size.
    block: u64,
    /// The shared bucket's time and leased count as of this instance's last take.
    tat_us: Option<i64>,
    leased: u64,
    /// Refused without asking storage until then (the `Retry-After` given).
    refused_until_us: i64,
    refusal: Option<(ErrorCode, String)>,
    /// Storage failed: admit by `local` alone until then.
    storage_pause_until_us: i64,
    /// This instance's own bucket, used only while storage fails.
    local: DayCounter,
}

/// Counts not yet added to the tenant's day and minute items.
#[derive(Debug, Default)]
struct Pending {
    accepted: u64,
    refused: u64,
    day: String,
    minute: String,
    flushed_us: i64,
}

/// The limiter's state in one warm instance: leases and unflushed counts per tenant.
#[derive(Default)]
pub struct Limiter {
    leases: Mutex<HashMap<(TenantId, Meter), Lease>>,
    pending: Mutex<HashMap<TenantId, Pending>>,
}

/// The UTC day (`yyyy-mm-dd`) and minute (`yyyy-mm-ddThh:mm`) of `now_us`.
pub fn day_and_minute(now_us: i64) -> (String, String) {
    let minute_ns = (now_us / (60 * SECOND_US)) * 60 * 1_000_000_000;
    let text = EventTimestamp::from_unix_nanos(minute_ns)
        .unwrap_or(EventTimestamp::MIN)
        .to_string();
    (text[..10].to_owned(), text[..16].to_owned())
}

fn seconds_to_midnight(now_us: i64) -> u64 {
    let left = DAY_US - now_us.rem_euclid(DAY_US);
    (left as u64).div_ceil(SECOND_US as u64)
}

fn ceil_seconds(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(SECOND_US as u64)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Limiter {
    /// Admit `n` units of `meter` (events, or one read request) for `tenant` at `now`, or
    /// refuse them all. `store` is scoped to the tenant.
    pub async fn admit<S: Store>(
        &self,
        store: &S,
        tenant: &TenantId,
        limits: &Limits,
        meter: Meter,
        n: u64,
        now: EventTimestamp,
    ) -> Admission {
        let Some((bucket, quota)) = limits.of(meter) else {
            return Admission::Unlimited;
        };
        let now_us = now.unix_nanos() / 1_000;
        let admission = self
            .decide(store, tenant, bucket, quota, meter, n, now_us)
            .await;
        if meter == Meter::Events {
            let refused = matches!(admission, Admission::Refused { .. });
            self.count(store, tenant, n, refused, now_us).await;
        }
        admission
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide<S: Store>(
        &self,
        store: &S,
        tenant: &TenantId,
        bucket: Option<Bucket>,
        quota: Option<u64>,
        meter: Meter,
        n: u64,
        now_us: i64,
    ) -> Admission {
        let (day, _) = day_and_minute(now_us);
        let key = (tenant.clone(), meter);
        let rules = Rules {
            meter,
            bucket,
            quota,
            now_us,
        };
        // What to take, decided under the lock; the take itself runs without it.
        let (take, keep) = {
            let mut leases = lock(&self.leases);
            let lease = leases.entry(key.clone()).or_default();
            if lease.day != day {
                *lease = Lease {
                    day: day.clone(),
                    block: 1,
                    tat_us: lease.tat_us,
                    local: lease.local,
                    ..Lease::default()
                };
            }
            if now_us < lease.refused_until_us {
                if let Some((code, message)) = lease.refusal.clone() {
                    // The sentence is the one of the first refusal; the wait is today's.
                    let wait = match code {
                        ErrorCode::QuotaExceeded => seconds_to_midnight(now_us),
                        _ => ceil_seconds(lease.refused_until_us - now_us),
                    };
                    return rules.refused(code, message, wait, n, lease);
                }
            }
            let live = now_us < lease.expires_us;
            if live && lease.left >= n {
                lease.left -= n;
                return Admission::Admitted(rules.state(lease));
            }
            if now_us < lease.storage_pause_until_us {
                return rules.admit_locally(lease, n);
            }
            let cap = bucket.map_or(MAX_BLOCK, Bucket::block_cap);
            lease.block = if live {
                // Used up before it expired: demand is higher than the block.
                (lease.block * 2).min(cap)
            } else if lease.left > 0 {
                // Expired unused: demand is lower.
                (lease.block / 2).max(1)
            } else {
                lease.block.clamp(1, cap)
            };
            let keep = if live { lease.left } else { 0 };
            let give_back = if live || quota.is_none() {
                0
            } else {
                lease.left
            };
            let needed = n - keep;
            (
                rules.take(&day, needed.max(lease.block), give_back, lease.tat_us),
                keep,
            )
        };
        let needed = n - keep;
        let mut taken = take.tokens;
        let mut outcome = store.take_tokens(&take).await;
        if let Ok(TakeOutcome::Refused(found)) = &outcome {
            // The block did not fit; as much of it as the bucket holds now may (at least what
            // this request needs): under a flood, one write still admits several requests.
            let room = rules.room(found, take.give_back).min(take.tokens);
            if room >= needed && room < take.tokens {
                let smaller = rules.take(&day, room, take.give_back, found.tat(meter));
                if limits::apply(&smaller, found).is_some() {
                    taken = room;
                    outcome = store.take_tokens(&smaller).await;
                }
            }
        }
        let mut leases = lock(&self.leases);
        let lease = leases.entry(key).or_default();
        match outcome {
            Ok(TakeOutcome::Taken { tat_us, leased }) => {
                lease.tat_us = Some(tat_us);
                lease.leased = leased;
                lease.left = keep + taken - n;
                lease.expires_us = now_us + LEASE_US;
                lease.refusal = None;
                Admission::Admitted(rules.state(lease))
            }
            Ok(TakeOutcome::Refused(found)) => {
                lease.tat_us = found.tat(meter);
                lease.leased = found.leased;
                let (code, message, wait_us) = rules.refusal(&found, needed, take.give_back);
                // Refused here without a write until then; a quota is asked again every
                // 10 s all the same, so a quota raised meanwhile takes effect.
                lease.refused_until_us = now_us + wait_us.min(FLUSH_EVERY_US);
                lease.refusal = Some((code, message.clone()));
                rules.refused(code, message, ceil_seconds(wait_us), n, lease)
            }
            Err(error) => {
                tracing::warn!(%tenant, %error, "rate limiter storage failed; admitting by this instance's own bucket");
                count_limiter(LimiterCount::StorageErrors, 1);
                lease.storage_pause_until_us = now_us + STORAGE_PAUSE_US;
                rules.admit_locally(lease, n)
            }
        }
    }

    /// Count `n` events accepted or refused; add the counts to the table every
    /// `FLUSH_EVERY_US` (or when the day changed).
    async fn count<S: Store>(
        &self,
        store: &S,
        tenant: &TenantId,
        n: u64,
        refused: bool,
        now_us: i64,
    ) {
        let (day, minute) = day_and_minute(now_us);
        let delta = {
            let mut pending = lock(&self.pending);
            let entry = pending.entry(tenant.clone()).or_insert_with(|| Pending {
                day: day.clone(),
                minute: minute.clone(),
                // The first count of a tenant waits for the next flush, like the others.
                flushed_us: now_us,
                ..Pending::default()
            });
            if entry.accepted == 0 && entry.refused == 0 {
                entry.day.clone_from(&day);
                entry.minute.clone_from(&minute);
            }
            if refused {
                entry.refused += n;
            } else {
                entry.accepted += n;
            }
            if now_us - entry.flushed_us < FLUSH_EVERY_US && entry.day == day {
                return;
            }
            let delta = UsageDelta {
                day: std::mem::replace(&mut entry.day, day.clone()),
                minute: std::mem::replace(&mut entry.minute, minute),
                accepted: std::mem::take(&mut entry.accepted),
                refused: std::mem::take(&mut entry.refused),
                expires_at: now_us / SECOND_US + KEEP_DAYS * 86_400,
            };
            entry.flushed_us = now_us;
            delta
        };
        if let Err(error) = store.add_usage(&delta).await {
            tracing::warn!(%tenant, %error, "usage counts not stored; kept for the next flush");
            count_limiter(LimiterCount::StorageErrors, 1);
            let mut pending = lock(&self.pending);
            if let Some(entry) = pending.get_mut(tenant) {
                entry.accepted += delta.accepted;
                entry.refused += delta.refused;
            }
        }
    }
}

/// One request's limits and clock: the arithmetic of takes, refusals and headers.
struct Rules {
    meter: Meter,
    bucket: Option<Bucket>,
    quota: Option<u64>,
    now_us: i64,
}

impl Rules {
    fn take(&self, day: &str, tokens: u64, give_back: u64, tat_us: Option<i64>) -> TokenTake {
        let (cost_us, tolerance_us) = match self.bucket {
            Some(bucket) => (
                bucket.interval_us().saturating_mul(tokens as i64),
                bucket.tolerance_us(),
            ),
            // A quota alone: the bucket never runs dry.
            None => (0, DAY_US),
        };
        TokenTake {
            day: day.to_owned(),
            meter: self.meter,
            now_us: self.now_us,
            tokens,
            cost_us,
            tolerance_us,
            quota: self.quota,
            give_back,
            idle_hint: tat_us.is_none_or(|tat| tat < self.now_us),
            expires_at: self.now_us / SECOND_US + KEEP_DAYS * 86_400,
        }
    }

    /// How many tokens a take could get from an item found as `found`, now.
    fn room(&self, found: &DayCounter, give_back: u64) -> u64 {
        let quota_room = self.quota.map_or(u64::MAX, |quota| {
            (quota + give_back).saturating_sub(found.leased)
        });
        let bucket_room = match self.bucket {
            None => u64::MAX,
            Some(bucket) => {
                let tat = found
                    .tat(self.meter)
                    .unwrap_or(self.now_us)
                    .max(self.now_us);
                let ahead = self.now_us + bucket.tolerance_us() - tat;
                (ahead.max(0) / bucket.interval_us().max(1)) as u64
            }
        };
        quota_room.min(bucket_room)
    }

    /// Which limit refused `needed` tokens on an item found as `found`, in words, and
    /// how long until they fit (µs).
    fn refusal(&self, found: &DayCounter, needed: u64, give_back: u64) -> (ErrorCode, String, i64) {
        if let Some(quota) = self.quota {
            if found.leased + needed > quota + give_back {
                let wait = seconds_to_midnight(self.now_us) as i64 * SECOND_US;
                let message = format!(
                    "This tenant's daily quota of {quota} events (UTC day) has room for {} more, \
                     and this request carries {needed}; nothing was written. The quota frees up \
                     at 00:00 UTC, in {} s.",
                    quota.saturating_sub(found.leased),
                    wait / SECOND_US
                );
                return (ErrorCode::QuotaExceeded, message, wait);
            }
        }
        let Some(bucket) = self.bucket else {
            // Only a concurrent take can get here; a second is plenty.
            return (
                ErrorCode::RateLimited,
                "The rate limit is busy; retry in 1 s.".to_owned(),
                SECOND_US,
            );
        };
        let tat = found
            .tat(self.meter)
            .unwrap_or(self.now_us)
            .max(self.now_us);
        let cost = bucket.interval_us().saturating_mul(needed as i64);
        let unit = if self.meter == Meter::Events {
            "events"
        } else {
            "read requests"
        };
        let (wait, why) = if cost > bucket.tolerance_us() {
            (
                tat - self.now_us,
                format!(
                    "A request of {needed} {unit} is larger than this tenant's burst of {}: it is \
                     admitted only once the tenant's bucket is full",
                    bucket.burst
                ),
            )
        } else {
            (
                tat + cost - bucket.tolerance_us() - self.now_us,
                format!(
                    "This tenant may send {} {unit} per second, {} at once; this request's {needed} \
                     do not fit now",
                    bucket.per_second, bucket.burst
                ),
            )
        };
        let wait = wait.max(SECOND_US / 10);
        (
            ErrorCode::RateLimited,
            format!(
                "{why}. Nothing was written; retry after {} s.",
                ceil_seconds(wait)
            ),
            wait,
        )
    }

    fn refused(
        &self,
        code: ErrorCode,
        message: String,
        wait: u64,
        n: u64,
        lease: &Lease,
    ) -> Admission {
        let what = match (self.meter, code) {
            (Meter::Reads, _) => LimiterCount::ReadsRateLimited,
            (_, ErrorCode::QuotaExceeded) => LimiterCount::EventsQuotaExceeded,
            _ => LimiterCount::EventsRateLimited,
        };
        count_limiter(what, n);
        // The tenant is on the request's span; per-tenant detail lives in this line only.
        tracing::info!(
            code = code.as_str(),
            units = n,
            retry_after = wait,
            "refused by a tenant limit"
        );
        Admission::Refused {
            error: ApiError::Limited {
                code,
                message,
                retry_after_seconds: wait.max(1),
            },
            state: self.state(lease),
        }
    }

    /// Storage failed: this instance's own bucket decides.
    fn admit_locally(&self, lease: &mut Lease, n: u64) -> Admission {
        let take = self.take(&lease.day, n, 0, lease.local.tat(self.meter));
        let take = TokenTake {
            quota: None,
            ..take
        };
        match limits::apply(&take, &lease.local) {
            Some(tat) => {
                match self.meter {
                    Meter::Events => lease.local.tat_us = Some(tat),
                    Meter::Reads => lease.local.read_tat_us = Some(tat),
                }
                Admission::Admitted(self.state(lease))
            }
            None => {
                let (code, message, wait) = self.refusal(&lease.local, n, 0);
                self.refused(code, message, ceil_seconds(wait), n, lease)
            }
        }
    }

    fn state(&self, lease: &Lease) -> LimitState {
        let (remaining, full_in_seconds) = match self.bucket {
            Some(bucket) => {
                let tat = lease.tat_us.unwrap_or(self.now_us).max(self.now_us);
                let room = (self.now_us + bucket.tolerance_us() - tat).max(0);
                let in_bucket = (room / bucket.interval_us().max(1)) as u64;
                (
                    (in_bucket + lease.left).min(bucket.burst),
                    ceil_seconds(tat - self.now_us),
                )
            }
            None => (0, 0),
        };
        LimitState {
            meter: self.meter,
            bucket: self.bucket,
            remaining,
            full_in_seconds,
            daily: self.quota,
            daily_remaining: self
                .quota
                .map_or(0, |quota| quota.saturating_sub(lease.leased) + lease.left),
            seconds_to_midnight: seconds_to_midnight(self.now_us),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u64, burst: u64, daily: u64, reads: u64) -> TenantLimits {
        TenantLimits {
            rate_per_second: Some(rate),
            burst: Some(burst),
            daily: Some(daily),
            reads_per_second: Some(reads),
        }
    }

    #[test]
    fn a_tenants_own_limits_win_and_the_defaults_fill_the_rest() {
        let defaults = LimitDefaults {
            rate_per_second: 500,
            burst: 2000,
            daily: 0,
            reads_per_second: 50,
        };
        let own = TenantLimits {
            rate_per_second: Some(10),
            ..TenantLimits::default()
        };
        let resolved = Limits::resolve(&own, &defaults);
        assert_eq!(
            resolved.events,
            Some(Bucket {
                per_second: 10,
                burst: 2000
            })
        );
        assert_eq!(resolved.daily, None, "0 is no quota");
        assert_eq!(
            resolved.reads.map(|b| b.burst),
            Some(100),
            "reads burst twice the rate"
        );
        // 0 everywhere: nothing to meter, no storage
        let none = Limits::resolve(&limits(0, 0, 0, 0), &defaults);
        assert!(none.of(Meter::Events).is_none() && none.of(Meter::Reads).is_none());
        // a rate without a burst allows one second's worth
        let no_burst = Limits::resolve(&limits(7, 0, 0, 0), &LimitDefaults::default());
        assert_eq!(no_burst.events.unwrap().burst, 7);
    }

    #[test]
    fn blocks_stay_small_against_the_rate_and_the_burst() {
        let block = |per_second, burst| Bucket { per_second, burst }.block_cap();
        assert_eq!(block(100, 200), 25, "a quarter of a second");
        assert_eq!(block(100, 10), 5, "half the burst");
        assert_eq!(block(100_000, 100_000), MAX_BLOCK);
        assert_eq!(block(1, 1), 1);
    }

    #[test]
    fn the_headers_follow_the_ratelimit_draft() {
        let state = LimitState {
            meter: Meter::Events,
            bucket: Some(Bucket {
                per_second: 100,
                burst: 500,
            }),
            remaining: 420,
            full_in_seconds: 1,
            daily: Some(1_000_000),
            daily_remaining: 918_700,
            seconds_to_midnight: 43_210,
        };
        let mut headers = HeaderMap::new();
        state.insert_headers(&mut headers);
        assert_eq!(
            headers["ratelimit-policy"],
            "\"rate\";q=500;w=5, \"daily\";q=1000000;w=86400"
        );
        assert_eq!(
            headers["ratelimit"],
            "\"rate\";r=420;t=1, \"daily\";r=918700;t=43210"
        );
    }

    #[test]
    fn days_minutes_and_midnight_are_utc() {
        // 2026-11-20T23:59:59.5Z
        let us = (1_795_219_200 - 1) * 1_000_000 + 500_000;
        assert_eq!(
            day_and_minute(us),
            ("2026-11-20".to_owned(), "2026-11-20T23:59".to_owned())
        );
        assert_eq!(seconds_to_midnight(us), 1);
        assert_eq!(seconds_to_midnight(1_795_219_200 * 1_000_000), 86_400);
    }
}
