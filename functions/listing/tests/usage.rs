//! `GET /usage` and the read limit: the limits in force and today's counts for a limited
//! tenant, `today: null` and no limiter storage for an unlimited one; reads beyond the read
//! limit are refused with 429 and `Retry-After` without reading, and carry the headers.

mod common;

use common::*;
use event_runtime::{Config, LimitDefaults};
use event_store::{Meter, Store, TenantId, TenantLimits, TokenTake, UsageDelta};
use lambda_http::http::StatusCode;
use serde_json::json;

fn limited(reads_per_second: u64) -> TenantLimits {
    TenantLimits {
        rate_per_second: Some(100),
        burst: None,
        daily: Some(1000),
        reads_per_second: Some(reads_per_second),
    }
}

#[tokio::test]
async fn usage_answers_the_limits_in_force_and_todays_counts() {
    // The deployment's default fills the burst the tenant did not set.
    let config = Config {
        limits: LimitDefaults {
            burst: 300,
            ..LimitDefaults::default()
        },
        ..test_config()
    };
    let app = app_with(config);
    let tenant = TenantId::default();
    app.store
        .set_tenant_limits(&tenant, &limited(50))
        .await
        .unwrap();
    // fixed_now() is 2026-11-20T12:00:00Z: counts of this minute and the one before, a lease
    let store = app.store.for_tenant(&tenant);
    for (minute, accepted, refused) in [("11:59", 120, 3), ("12:00", 7, 0)] {
        let delta = UsageDelta {
            day: "2026-11-20".into(),
            minute: format!("2026-11-20T{minute}"),
            accepted,
            refused,
            expires_at: 0,
        };
        store.add_usage(&delta).await.unwrap();
    }
    let take = TokenTake {
        day: "2026-11-20".into(),
        meter: Meter::Events,
        now_us: NOW_NANOS / 1000,
        tokens: 130,
        cost_us: 0,
        tolerance_us: 1,
        quota: Some(1000),
        give_back: 0,
        idle_hint: true,
        expires_at: 0,
    };
    store.take_tokens(&take).await.unwrap();

    let answer = call(&app, get("/usage", "")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({
            "tenant": "default",
            "limits": {"rate_per_second": 100, "burst": 300, "daily": 1000, "reads_per_second": 50},
            "today": {"day": "2026-11-20", "accepted": 127, "refused": 3, "quota_used": 130,
                      "quota_remaining": 870, "resets_at": "2026-11-21T00:00:00Z",
                      "current_rate_per_second": 2.0, "current_minute_accepted": 7}
        })
    );
    assert!(
        answer.headers.contains_key("ratelimit"),
        "a read of a limited tenant"
    );
}

#[tokio::test]
async fn an_unlimited_tenant_is_not_metered() {
    let app = app_with(test_config());
    let answer = call(&app, get("/usage", "")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["today"], json!(null));
    assert_eq!(answer.body["limits"]["rate_per_second"], json!(null));
    assert_eq!(app.store.limiter_calls(), 0);
    assert!(!answer.headers.contains_key("ratelimit-policy"));
}

#[tokio::test]
async fn reads_past_the_read_limit_are_refused_with_retry_after() {
    let app = app_with(test_config());
    app.store
        .set_tenant_limits(&TenantId::default(), &limited(2))
        .await
        .unwrap();
    // A burst of twice the rate: four reads, then a refusal (the clock does not move).
    for i in 0..4 {
        let answer = call(&app, get("/events/processed", "")).await;
        assert_eq!(answer.status, StatusCode::OK, "read {i}: {}", answer.body);
        assert_eq!(
            answer.headers["ratelimit-policy"], "\"rate\";q=4;w=2",
            "units are requests on the read routes"
        );
    }
    let refused = call(&app, get("/events/processed", "")).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 read requests per second"));
    assert_eq!(refused.headers["retry-after"], "1");
    // The events' own limits are untouched by reads: the day item holds no events bucket.
    let usage = app
        .store
        .for_tenant(&TenantId::default())
        .usage("2026-11-20", "2026-11-20T11:59", "2026-11-20T12:00")
        .await
        .unwrap();
    assert_eq!(usage.day.tat_us, None);
    assert!(usage.day.read_tat_us.is_some());
}
