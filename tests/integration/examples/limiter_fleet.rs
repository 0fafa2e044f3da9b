//! The rate limiter as a fleet sees it, on the stack's DynamoDB: N instances (each its own
//! `Limiter`, as N warm Lambda instances are) admit one tenant's events, sent at 3× its
//! rate, for T seconds, and the example prints what was admitted against the bound
//! `rate × T + burst` (over-admission), and the limiter's writes per admitted event (from
//! DynamoDB's own ConsumedCapacity, counted by the store), for single events and for
//! batches, at 1, 3 and 8 instances; then the steady-state price at 100 events/s under the
//! limit. The baseline of each ratio is the bucket's own allowance in the same run.
//!
//!   cargo run --release -p integration-tests --example limiter_fleet -- [SECONDS]   (a stack must be up)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_core::EventTimestamp;
use event_runtime::{system_now, Admission, Limiter, Limits};
use event_store::{DynamoStore, Meter, Store, TenantId, TenantLimits};
use integration_tests::{dynamo_client, new_limited_tenant, stack_store_config};

struct Run {
    admitted: u64,
    offered: u64,
    seconds: f64,
    write_units: f64,
    requests: u64,
}

/// `instances` limiters share one tenant; together they offer `offered_per_second` events in
/// requests of `batch`, for `seconds`.
async fn run(
    store: &DynamoStore,
    tenant: &TenantId,
    limits: Limits,
    instances: usize,
    batch: u64,
    offered_per_second: u64,
    seconds: u64,
) -> Run {
    let before = store.stats();
    let admitted = Arc::new(AtomicU64::new(0));
    let offered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let per_instance =
        Duration::from_secs_f64((instances as u64 * batch) as f64 / offered_per_second as f64);
    let tasks = (0..instances).map(|_| {
        let (store, tenant) = (store.clone(), tenant.clone());
        let (admitted, offered) = (Arc::clone(&admitted), Arc::clone(&offered));
        async move {
            let limiter = Limiter::default();
            let mut tick = tokio::time::interval(per_instance);
            while Instant::now() < deadline {
                tick.tick().await;
                offered.fetch_add(batch, Ordering::Relaxed);
                let now: EventTimestamp = system_now();
                match limiter
                    .admit(&store, &tenant, &limits, Meter::Events, batch, now)
                    .await
                {
                    Admission::Admitted(_) => {
                        admitted.fetch_add(batch, Ordering::Relaxed);
                    }
                    Admission::Refused { .. } => {}
                    Admission::Unlimited => unreachable!("the tenant has limits"),
                }
            }
        }
    });
    futures::future::join_all(tasks).await;
    let after = store.stats();
    Run {
        admitted: admitted.load(Ordering::Relaxed),
        offered: offered.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        write_units: after.write_units - before.write_units,
        requests: after.requests - before.requests,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let (rate, burst): (u64, u64) = std::env::var("FLEET_LIMIT")
        .ok()
        .and_then(|v| {
            v.split_once(',')
                .map(|(r, b)| (r.parse().unwrap(), b.parse().unwrap()))
        })
        .unwrap_or((100, 200));
    let batches: Vec<u64> = std::env::var("FLEET_BATCHES")
        .ok()
        .map(|v| v.split(',').map(|b| b.parse().unwrap()).collect())
        .unwrap_or(vec![1, 100]);
    let tenant_limits = TenantLimits {
        rate_per_second: Some(rate),
        burst: Some(burst),
        daily: Some(0),
        reads_per_second: Some(0),
    };
    let limits = Limits::resolve(&tenant_limits, &Default::default());
    let base = DynamoStore::new(dynamo_client().await, stack_store_config());
    println!(
        "limit {rate}/s, burst {burst}; offered 3× the rate for {seconds} s; bound = rate × T + burst"
    );
    println!("| requests of | instances | offered | admitted | bound | admitted / bound | admitted / (rate × T) | limiter WRU per admitted event | limiter requests per admitted event |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &batch in &batches {
        for instances in [1, 3, 8] {
            let (tenant, _) = new_limited_tenant("fleet", "fleet-*", tenant_limits).await;
            let tenant = TenantId::parse(&tenant).expect("tenant");
            let store = base.for_tenant(&tenant);
            let r = run(&store, &tenant, limits, instances, batch, 3 * rate, seconds).await;
            let bound = rate as f64 * r.seconds + burst as f64;
            println!(
                "| {batch} event{} | {instances} | {} | {} | {bound:.0} | {:.3} | {:.3} | {:.4} | {:.4} |",
                if batch == 1 { "" } else { "s" },
                r.offered,
                r.admitted,
                r.admitted as f64 / bound,
                r.admitted as f64 / (rate as f64 * r.seconds),
                r.write_units / r.admitted as f64,
                r.requests as f64 / r.admitted as f64,
            );
        }
    }
    println!();
    println!("steady state: 100 events/s offered under a limit of 1000/s (nothing refused)");
    println!("| requests of | instances | admitted | limiter WRU per event | limiter requests per event |");
    println!("|---|---|---|---|---|");
    let roomy = TenantLimits {
        rate_per_second: Some(1000),
        burst: Some(2000),
        ..tenant_limits
    };
    let roomy_limits = Limits::resolve(&roomy, &Default::default());
    for (batch, instances) in [(1, 1), (1, 3), (1, 8), (100, 1), (100, 3)] {
        let (tenant, _) = new_limited_tenant("steady", "steady-*", roomy).await;
        let tenant = TenantId::parse(&tenant).expect("tenant");
        let store = base.for_tenant(&tenant);
        let r = run(
            &store,
            &tenant,
            roomy_limits,
            instances,
            batch,
            100,
            seconds,
        )
        .await;
        println!(
            "| {batch} | {instances} | {} | {:.4} | {:.4} |",
            r.admitted,
            r.write_units / r.admitted as f64,
            r.requests as f64 / r.admitted as f64
        );
    }
}
