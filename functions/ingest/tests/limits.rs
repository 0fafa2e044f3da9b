//! Per-tenant limits on `POST /events`: events (not requests) are counted, a request that does
//! not fit is refused whole with 429, its code, a sentence and `Retry-After`, and nothing of
//! it is written; every answer of a limited tenant carries `RateLimit-Policy` and
//! `RateLimit`; a daily quota frees up at 00:00 UTC (time injected); the limiter's storage
//! failing admits (fail-open; counted, in tests/metrics.rs); a tenant without limits costs no
//! storage.

mod common;

use std::sync::atomic::{AtomicI64, Ordering};

use common::*;
use event_core::EventTimestamp;
use event_runtime::App;
use event_store::{MemoryStore, ProcessedQuery, Store, TenantId, TenantLimits};
use lambda_http::http::StatusCode;

/// 2026-11-20T23:59:50Z: ten seconds before a UTC midnight.
const BEFORE_MIDNIGHT_NANOS: i64 = (1_795_219_200 - 10) * 1_000_000_000;

async fn limited_app(limits: TenantLimits, clock: event_runtime::Clock) -> App<MemoryStore> {
    let store = memory_store();
    assert!(store
        .set_tenant_limits(&TenantId::default(), &limits)
        .await
        .unwrap());
    App::new(store, test_config()).with_clock(clock)
}

fn rate(per_second: u64, burst: u64) -> TenantLimits {
    TenantLimits {
        rate_per_second: Some(per_second),
        burst: Some(burst),
        daily: Some(0),
        reads_per_second: Some(0),
    }
}

/// A batch of `n` distinct valid events.
fn batch(n: usize, offset: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| event_with_amount(&format!("{}", i + offset)))
        .collect();
    format!(r#"{{"events":[{}]}}"#, items.join(","))
}

async fn stored(app: &App<MemoryStore>) -> usize {
    let page = app
        .store
        .for_tenant(&TenantId::default())
        .list_processed(&ProcessedQuery {
            client_id: None,
            from: None,
            to: None,
            limit: 1000,
            cursor: None,
        })
        .await
        .unwrap();
    page.items.len()
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} in {:?}", answer.headers))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_batch_spends_its_size_and_one_that_does_not_fit_is_refused_whole() {
    let app = limited_app(rate(10, 20), fixed_now).await;
    let first = call(&app, post(&batch(15, 0))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(header(&first, "ratelimit-policy"), "\"rate\";q=20;w=2");
    // 15 of the burst of 20 are spent: 10 more do not fit, none of them is written.
    let second = call(&app, post(&batch(10, 100))).await;
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.body
    );
    assert_eq!(second.body["error"]["code"], "rate_limited");
    let message = second.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("10 events per second") && message.contains("retry after"),
        "{message}"
    );
    let retry_after: u64 = header(&second, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(header(&second, "ratelimit").starts_with("\"rate\";r="));
    assert_eq!(
        stored(&app).await,
        15,
        "nothing of the refused batch was written"
    );
}

#[tokio::test]
async fn single_events_are_admitted_up_to_the_burst_then_refused_with_retry_after() {
    let app = limited_app(rate(5, 5), fixed_now).await;
    for i in 0..5 {
        let answer = call(&app, post(&event_with_amount(&i.to_string()))).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "event {i}: {}",
            answer.body
        );
        assert!(answer.headers.contains_key("ratelimit"), "event {i}");
    }
    let refused = call(&app, post(&event_with_amount("99"))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(stored(&app).await, 5);
}

#[tokio::test]
async fn a_batch_larger_than_the_burst_is_admitted_only_by_a_full_bucket() {
    let app = limited_app(rate(10, 5), fixed_now).await;
    let big = call(&app, post(&batch(8, 0))).await;
    assert_eq!(
        big.status,
        StatusCode::OK,
        "a full bucket takes it: {}",
        big.body
    );
    let again = call(&app, post(&batch(8, 100))).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    let message = again.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("larger than this tenant's burst of 5"),
        "{message}"
    );
}

static QUOTA_CLOCK: AtomicI64 = AtomicI64::new(BEFORE_MIDNIGHT_NANOS);

fn quota_clock() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(QUOTA_CLOCK.load(Ordering::SeqCst)).unwrap()
}

#[tokio::test]
async fn a_daily_quota_refuses_until_the_next_utc_midnight_and_the_next_day_admits() {
    let limits = TenantLimits {
        daily: Some(3),
        ..rate(0, 0)
    };
    let app = limited_app(limits, quota_clock).await;
    let three = call(&app, post(&batch(3, 0))).await;
    assert_eq!(three.status, StatusCode::OK, "{}", three.body);
    assert_eq!(header(&three, "ratelimit-policy"), "\"daily\";q=3;w=86400");
    assert_eq!(header(&three, "ratelimit"), "\"daily\";r=0;t=10");
    let refused = call(&app, post(&event_with_amount("7"))).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "quota_exceeded");
    assert_eq!(
        header(&refused, "retry-after"),
        "10",
        "seconds to 00:00 UTC"
    );
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("daily quota of 3 events"));

    QUOTA_CLOCK.store(BEFORE_MIDNIGHT_NANOS + 11_000_000_000, Ordering::SeqCst);
    let next_day = call(&app, post(&event_with_amount("7"))).await;
    assert_eq!(next_day.status, StatusCode::CREATED, "{}", next_day.body);
    assert_eq!(stored(&app).await, 4);
}

#[tokio::test]
async fn a_tenant_without_limits_gets_no_headers_and_costs_the_limiter_nothing() {
    let app = app_with(test_config());
    // Any limiter call would fail and be counted; none is made.
    app.store.fail_next_limiter_calls(1);
    let answer = call(&app, post(EVENT)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert!(!answer.headers.contains_key("ratelimit"));
    assert!(!answer.headers.contains_key("ratelimit-policy"));
    assert_eq!(app.store.limiter_calls(), 0);
}

#[tokio::test]
async fn a_malformed_body_is_answered_before_the_limiter_and_spends_nothing() {
    let app = limited_app(rate(1, 1), fixed_now).await;
    let bad = call(&app, post("{not json")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let good = call(&app, post(EVENT)).await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.body);
}

static FLEET_CLOCK: AtomicI64 = AtomicI64::new(NOW_NANOS);

fn fleet_clock() -> EventTimestamp {
    EventTimestamp::from_unix_nanos(FLEET_CLOCK.load(Ordering::SeqCst)).unwrap()
}

/// 1, 3 and 8 instances (each its own app and limiter) sharing one tenant's counter item,
/// offered 100 events/s against a limit of 20/s for 20 s (on an injected clock): together
/// they admit what one bucket allows (rate × T + burst), within one request.
#[tokio::test]
async fn a_fleet_of_instances_admits_what_one_bucket_allows() {
    for instances in [1usize, 3, 8] {
        let store = memory_store();
        let tenant = TenantId::default();
        assert!(store
            .set_tenant_limits(&tenant, &rate(20, 20))
            .await
            .unwrap());
        let fleet: Vec<_> = (0..instances)
            .map(|_| App::new(store.for_tenant(&tenant), test_config()).with_clock(fleet_clock))
            .collect();
        let start = FLEET_CLOCK.load(Ordering::SeqCst);
        let mut accepted = 0;
        for i in 0..400u64 {
            FLEET_CLOCK.store(start + i as i64 * 50_000_000, Ordering::SeqCst);
            let app = &fleet[(i as usize * 7919) % instances];
            if call(app, post(&batch(5, (i * 5) as usize))).await.status == StatusCode::OK {
                accepted += 5;
            }
        }
        let allowance = 20 * 20 + 20;
        assert!(
            (allowance - 5..=allowance).contains(&accepted),
            "{instances} instances admitted {accepted}, one bucket allows {allowance}"
        );
        // The next test starts on a day of its own.
        FLEET_CLOCK.store(start + 86_400_000_000_000, Ordering::SeqCst);
    }
}
