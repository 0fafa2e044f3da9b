//! `GET /usage`: the caller's limits in force, today's (UTC) accepted and refused events,
//! the quota used, and the current rate (events accepted in the last full minute). A tenant
//! without limits is not metered (nothing of its events is counted), so only its limits
//! are answered.

use event_core::EventTimestamp;
use event_http::{ApiError, Reply};
use event_runtime::limiter::day_and_minute;
use event_runtime::{store_error, Ctx};
use event_store::Store;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
struct UsageView {
    tenant: String,
    limits: LimitsView,
    /// `null` for a tenant without limits on events: its events are not metered.
    today: Option<TodayView>,
}

/// `null` for "no limit".
#[derive(Serialize)]
struct LimitsView {
    rate_per_second: Option<u64>,
    burst: Option<u64>,
    daily: Option<u64>,
    reads_per_second: Option<u64>,
}

#[derive(Serialize)]
struct TodayView {
    day: String,
    /// Events admitted and refused today, as flushed by the function instances (each adds
    /// its counts at least every 10 s while it serves requests).
    accepted: u64,
    refused: u64,
    /// Events taken from the daily quota (what the quota counts).
    quota_used: u64,
    quota_remaining: Option<u64>,
    /// When the day's counts and quota start again (00:00 UTC).
    resets_at: EventTimestamp,
    /// Events per second accepted over the last full minute.
    current_rate_per_second: f64,
    /// Events accepted so far in the current minute.
    current_minute_accepted: u64,
}

pub(crate) async fn show<S: Store>(ctx: &Ctx<'_, S>) -> Result<Reply, ApiError> {
    let limits = ctx.limits();
    let now = ctx.now();
    let now_us = now.unix_nanos() / 1_000;
    let metered = limits.events.is_some() || limits.daily.is_some();
    let today = if metered {
        let (day, minute) = day_and_minute(now_us);
        let (_, previous_minute) = day_and_minute(now_us - 60_000_000);
        let usage = ctx
            .store
            .usage(&day, &previous_minute, &minute)
            .await
            .map_err(store_error)?;
        let midnight = (now.unix_nanos() / 86_400_000_000_000 + 1) * 86_400_000_000_000;
        Some(TodayView {
            day,
            accepted: usage.day.accepted,
            refused: usage.day.refused,
            quota_used: usage.day.leased,
            quota_remaining: limits
                .daily
                .map(|daily| daily.saturating_sub(usage.day.leased)),
            resets_at: EventTimestamp::from_unix_nanos(midnight).unwrap_or(EventTimestamp::MAX),
            current_rate_per_second: (usage.previous_minute_accepted as f64 / 60.0 * 100.0).round()
                / 100.0,
            current_minute_accepted: usage.current_minute_accepted,
        })
    } else {
        None
    };
    let body = UsageView {
        tenant: ctx.caller.tenant.to_string(),
        limits: LimitsView {
            rate_per_second: limits.events.map(|bucket| bucket.per_second),
            burst: limits.events.map(|bucket| bucket.burst),
            daily: limits.daily,
            reads_per_second: limits.reads.map(|bucket| bucket.per_second),
        },
        today,
    };
    Reply::json(StatusCode::OK, &body, "usage")
}
