//! The guarantees of docs/contract.md end to end, under pressure: real HTTP to the functions
//! under `cargo lambda watch`, real DynamoDB in LocalStack, many concurrent clients that
//! resend what did not get a definite answer, and storage faults injected between the
//! functions and DynamoDB (`integration_tests::fault_proxy`).
//!
//! Each test computes the truth itself (which distinct events exist, their exact sums in
//! 10^-9 units, their canonical forms) and fails when the service disagrees: a count or total
//! of `/aggregates` that differs from the truth or from the sum over `/events/processed`, an
//! event answered `processed` twice, an event that never ends counted, a request that hangs.
//! Each writes its section of RELIABILITY.md (`integration_tests::report`), failures included.
//! The harness (workloads, clients, checks, and the `Scenario` every test is set up with) is
//! `integration_tests::reliability`; here are only the tests and their own steps.
//!
//! Sizes: small under a plain `cargo test` (about a minute each on 2 cores), full with `SOAK=1`
//! (`SOAK=1 cargo test -p integration-tests --test reliability -- --test-threads=1`).
//! The tests take a lock so they never run at the same time (their numbers stay their own).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use integration_tests::fault_proxy::{Brownout, Fault, FaultPlan};
use integration_tests::launcher::ProxiedFunctions;
use integration_tests::reliability::calendar::{canonical_ts, date_ns, NS};
use integration_tests::reliability::checks::{
    aggregates, answer_is_typed, get_ok, key_reads_line, list_all, totals, INGEST_TIMEOUT,
    REQUEST_DEADLINE,
};
use integration_tests::reliability::client::{timed_post, Injected};
use integration_tests::reliability::scenario::Scenario;
use integration_tests::reliability::spelling::canonical_amount;
use integration_tests::reliability::workload::Shape;
use integration_tests::reliability::{lock_serial, run_id};
use integration_tests::report::{Report, Size};
use integration_tests::{encode, nano_units, new_tenant, StatusCode};

// ---------------------------------------------------------------------------------------
// 1. Load with duplicates
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_with_duplicates_counts_every_event_once() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(1, "load_with_duplicates", size);
    let tenants = size.pick(2, 4);
    let per_tenant = size.pick(3, 4);
    let distinct = size.pick(800, 5_000);
    let sends = size.pick(1_600, 10_000);
    let workers = 32;
    let ranges = size.pick(3, 6);

    // GIVEN tenants made like `admin tenants create`, each owning its own client ids
    let run = run_id();
    let mut keys = Vec::new();
    let mut clients = Vec::new();
    for t in 0..tenants {
        let prefix = format!("rl{run}t{t}-");
        let (_, key) = new_tenant("rel-load", &format!("{prefix}*")).await;
        keys.push(key);
        clients.push((0..per_tenant).map(|c| format!("{prefix}c{c}")).collect());
    }
    let shape = Shape {
        clients,
        distinct,
        sends,
        single_share: 0.5,
        max_batch: 40,
        // June 2026, two days: many hours, so ranges cut through hourly items
        window: (date_ns(2026, 6, 1), 2 * 86_400 * NS),
    };
    let stage = Scenario::new(shape, workers)
        .through_stack(keys)
        .start(&mut report)
        .await;
    report.item(
        "seed",
        format!("{} (workload spellings and order)", stage.seed),
    );

    // WHEN 32 clients send it all at once, resending what got no definite answer
    let elapsed = stage.run().await;
    stage.report_run(&mut report, elapsed, "");

    // THEN each event was counted once: the answers say so...
    let (summary, _) = stage.check_answers(&mut report);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events, {} `duplicate`; {} events had an answer that left it open",
            summary.processed_answers,
            stage.run.work.events.len(),
            summary.duplicate_answers,
            summary.ambiguous_events
        ),
    );

    // ...and the service's reads agree with the truth and with each other
    let checks = stage
        .check_reads(&mut report, &summary, ranges, 0x5eed)
        .await;
    report.item(
        "reads checked",
        checks.line(", each once, canonical form, same hash as answered"),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 2. Storage faults
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_faults_lose_nothing_and_count_nothing_twice() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(2, "storage_faults", size);
    let share: f64 = std::env::var("FAULT_SHARE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.15);
    let clients = size.pick(2, 4);
    let distinct = size.pick(250, 2_000);
    let sends = size.pick(400, 3_000);
    let workers = size.pick(16, 32);

    // GIVEN the functions reaching DynamoDB through the fault proxy, with keys on as deployed:
    // every instance starts with a cold key cache, and a cached key expires every second
    // (AUTH_CACHE_SECONDS=1), so key and tenant reads meet the faults all through the run
    let run = run_id();
    let ids: Vec<String> = (0..clients).map(|c| format!("rf{run}-c{c}")).collect();
    let shape = Shape {
        clients: vec![ids],
        distinct,
        sends,
        single_share: 0.6,
        max_batch: 25,
        window: (date_ns(2026, 7, 1), 86_400 * NS),
    };
    let stage = Scenario::new(shape, workers)
        .through_faults(
            "rel-faults",
            3,
            &["AUTH_CACHE_SECONDS=1".to_owned()],
            FaultPlan::every_kind(share),
            Injected::StorageFaults,
        )
        .start(&mut report)
        .await;
    let functions = stage.functions();
    let work = &stage.run.work;
    report.item(
        "functions",
        format!(
            "a second cargo lambda watch (3 instances per function) with AWS_ENDPOINT_URL at the fault proxy, keys on (AUTH_CACHE_SECONDS=1: the key and tenant are read again through the faults every second), tenant {}; read back through the main stack with that tenant's key",
            functions.tenant
        ),
    );

    // WHEN clients send everything while a share of DynamoDB calls fail, with short outages
    // (every call failing for 7 s, longer than a store operation's ~6 s retry budget, after
    // every 6 s of normal faults) that spend whole retry budgets, so events
    // also end kept as failed (then retried by the client) or answered 503 (then resent)
    let mut bursts = 0;
    // an outage writes nothing: only faults that never reach DynamoDB (a late or lost
    // answer would land the write, and the "failed" commit would be counted after all)
    let outage = FaultPlan::unforwarded(1.0);
    let outages = async {
        let pause = |ms| tokio::time::sleep(Duration::from_millis(ms));
        'outer: loop {
            for _ in 0..60 {
                pause(100).await;
                if stage.finished() {
                    break 'outer;
                }
            }
            bursts += 1;
            functions.proxy.set_plan(outage.clone());
            pause(7_000).await;
            functions.proxy.set_plan(FaultPlan::every_kind(share));
        }
        functions.proxy.set_plan(FaultPlan::every_kind(share));
    };
    let (elapsed, ()) = futures::join!(stage.run(), outages);
    let stats = functions.proxy.stats();
    report.item(
        "faults injected",
        format!(
            "{} of {} DynamoDB calls ({:.1} %; plan: {:.0} % of calls, every kind equally likely, plus {bursts} outage(s) of 7 s with every call failing without reaching DynamoDB): {}",
            stats.total_faults(),
            stats.total_calls(),
            100.0 * stats.total_faults() as f64 / stats.total_calls().max(1) as f64,
            share * 100.0,
            stats.fault_lines().join("; ")
        ),
    );
    report.item("proxy", stats.summary());
    report.item("key reads under faults", key_reads_line(&stats));
    stage.report_run(&mut report, elapsed, " under faults");

    // THEN no request hung, every event ended counted once...
    let (summary, truthful) = stage.check_answers(&mut report);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events (one each, except {} events that also got a 5xx, `unavailable` or failed-record answer: at most one), {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent (seen at the proxy)",
            summary.processed_answers,
            work.events.len(),
            summary.ambiguous_events,
            summary.duplicate_answers
        ),
    );

    // ...reads under heavy fast faults are exact or a typed 503, never a partial sum (reads
    // make no transaction, so they meet every unforwarded fault but TransactionConflict)...
    functions.proxy.set_plan(FaultPlan::unforwarded(0.7));
    let faulty = functions.api();
    let (mut exact, mut unavailable) = (0, 0);
    for (client, info) in work.clients.iter().enumerate() {
        let id = &info.id;
        let want = work.totals_of(client);
        for _ in 0..size.pick(3, 8) {
            let reply = faulty
                .get(&format!("/aggregates?client_id={}", encode(id)))
                .await;
            if reply.status == StatusCode::OK {
                let got = totals(&reply.body);
                report.check(got == want, || {
                    format!("client {id}: /aggregates under faults {got:?} != truth {want:?}")
                });
                exact += 1;
            } else {
                report.check(reply.status == StatusCode::SERVICE_UNAVAILABLE, || {
                    format!(
                        "/aggregates under faults answered {} {}",
                        reply.status, reply.body
                    )
                });
                unavailable += 1;
            }
        }
    }
    let read_faults = functions.proxy.stats().total_faults() - stats.total_faults();
    report.item(
        "reads under faults",
        format!("/aggregates through the faulty functions with 70 % of calls failing fast ({read_faults} faults): {exact} exact answers, {unavailable} typed 503, nothing else"),
    );
    functions.proxy.set_share(0.0);

    // ...the store holds exactly the truth (read without faults)...
    let checks = stage
        .check_reads(&mut report, &summary, size.pick(3, 6), 0xfa17)
        .await;
    report.item("reads checked", checks.line(""));

    // ...and every failed record left behind is retryable and only ever a duplicate now
    let api = functions.stack_api();
    let (mut statuses, mut orphans_retried) = (BTreeMap::<String, u64>::new(), 0u64);
    let told: BTreeSet<String> = stage
        .run
        .ledger()
        .failed_ids
        .iter()
        .map(|(_, id)| id.clone())
        .collect();
    for client in &work.clients {
        let path = format!("/events/failed?client_id={}", encode(&client.id));
        // a page that failed is reported: check the records read before it all the same
        let items = list_all(&mut report, &api, &path)
            .await
            .unwrap_or_else(|read_before| read_before);
        for item in items {
            let status = item["status"].as_str().unwrap_or("?").to_owned();
            let id = item["failed_id"].as_str().unwrap_or("").to_owned();
            let key = format!(
                "{status} ({}, reason {})",
                if told.contains(&id) {
                    "client was told"
                } else {
                    "client never told"
                },
                item["reason"]["code"].as_str().unwrap_or("?")
            );
            *statuses.entry(key).or_default() += 1;
            report.check(status != "rejected", || {
                format!("a valid event was kept as rejected: {item}")
            });
            if status == "failed" {
                let reply = api
                    .post_raw(&format!("/events/failed/{}/retry", encode(&id)), "")
                    .await;
                orphans_retried += 1;
                report.check(
                    reply.status == StatusCode::OK && reply.body["status"] == "duplicate",
                    || format!("retry of a left-over failed record {id} answered {} {} (every event is already counted)", reply.status, reply.body),
                );
            }
        }
    }
    report.item(
        "failed records",
        format!(
            "{} kept ({}); {} still `failed` retried now, each a duplicate",
            statuses.values().sum::<u64>(),
            statuses
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            orphans_retried
        ),
    );
    for (client, info) in work.clients.iter().enumerate() {
        let id = &info.id;
        let want = work.totals_of(client);
        if let Some(got) = aggregates(&mut report, &api, &format!("client_id={}", encode(id))).await
        {
            report.check(got == want, || {
                format!("client {id}: after retrying left-over failed records /aggregates {got:?} != truth {want:?}")
            });
        }
    }
    let retries = functions.retry_log();
    report.item(
        "function retries",
        format!(
            "{} in-process store retries logged (by operation: {}; after: {}); {} operations spent their retry budget (then failed record or 503)",
            retries.retries,
            retries.by_operation_line(),
            retries.by_reason_line(),
            retries.budget_spent
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 5. Crashes
// ---------------------------------------------------------------------------------------

/// The function process killed (SIGKILL) at random points of ingest: before a commit is sent,
/// while it is in flight, after it committed but before the answer; the killed process is
/// replaced (scripts/devstack/respawn.py, as Lambda replaces a sandbox) and clients resend
/// whatever got no answer. Then a commit whose answers are all lost, so the event is kept as
/// failed although it was counted: its retry must be a duplicate and mark it retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_lose_nothing_and_count_nothing_twice() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    let mut report = Report::new(5, "crashes", size);
    let share = 0.12;
    let clients = size.pick(2, 4);
    let distinct = size.pick(200, 1_500);
    let sends = size.pick(300, 2_000);
    let workers = size.pick(12, 24);

    // GIVEN the functions reaching DynamoDB through the proxy, 2 instances per function, keys
    // on (each process that replaces a killed one reads its key anew)
    let run = run_id();
    let ids: Vec<String> = (0..clients).map(|c| format!("rc{run}-c{c}")).collect();
    let shape = Shape {
        clients: vec![ids],
        distinct,
        sends,
        single_share: 0.6,
        max_batch: 10,
        window: (date_ns(2026, 6, 1), 86_400 * NS),
    };
    let crashes = FaultPlan {
        kinds: Fault::CRASHES.to_vec(),
        operations: vec!["TransactWriteItems".to_owned()],
        ..FaultPlan::every_kind(share)
    };
    let stage = Scenario::new(shape, workers)
        .through_faults("rel-crash", 2, &[], crashes, Injected::Crashes)
        .start(&mut report)
        .await;
    let functions = stage.functions();

    // WHEN clients send everything while a share of commits kill the process making them
    let elapsed = stage.run().await;
    functions.proxy.set_share(0.0);
    let stats = functions.proxy.stats();
    report.item(
        "crashes",
        format!(
            "{} of {} commits ({:.0} % planned) killed the function process making them: {}; {} processes killed, {} already gone (a second commit of a batch whose process another crash had killed); each replaced by scripts/devstack/respawn.py",
            stats.total_faults(),
            stats.calls_of("TransactWriteItems"),
            share * 100.0,
            stats.fault_lines().join("; "),
            stats.kills,
            stats.kills_missed,
        ),
    );
    report.check(stats.kills * 2 > stats.total_faults(), || {
        format!(
            "crash faults must kill the calling process: {} killed, {} not found",
            stats.kills, stats.kills_missed
        )
    });
    report.item("proxy", stats.summary());
    stage.report_run(&mut report, elapsed, " with crashes");

    // THEN no request hung, every event ended counted once, and the reads hold the truth
    let (summary, truthful) = stage.check_answers(&mut report);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events (at most one each; {} events also got a killed or 5xx answer), {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent",
            summary.processed_answers,
            stage.run.work.events.len(),
            summary.ambiguous_events,
            summary.duplicate_answers
        ),
    );
    let checks = stage
        .check_reads(&mut report, &summary, size.pick(3, 6), 0xc7a5)
        .await;
    report.item("reads checked", checks.line(""));

    let api = functions.stack_api();
    // AND an event counted although its commit "failed" (every answer of DynamoDB lost) is
    // kept as failed; its retry finds it counted, and marks the record retried
    functions.proxy.set_plan(FaultPlan {
        kinds: vec![Fault::LostAnswer],
        operations: vec!["TransactWriteItems".to_owned()],
        ..FaultPlan::every_kind(1.0)
    });
    let client = format!("rc{run}-lost", run = run_id());
    let event = format!(
        r#"{{"client_id":"{client}","payload":{{"metric":"m","amount":"7.5","timestamp":"2026-06-01T12:00:00Z"}}}}"#
    );
    let kept = functions.api().post_raw("/events", event).await;
    functions.proxy.set_share(0.0);
    let failed_id = kept.body["failed_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    report.check(
        kept.status == StatusCode::INTERNAL_SERVER_ERROR && !failed_id.is_empty(),
        || {
            format!(
                "a commit with every answer lost must be kept as failed: {} {}",
                kept.status, kept.body
            )
        },
    );
    let retried = api
        .post_raw(&format!("/events/failed/{}/retry", encode(&failed_id)), "")
        .await;
    let record = api
        .get(&format!("/events/failed/{}", encode(&failed_id)))
        .await;
    let totals = api
        .get(&format!("/aggregates?client_id={}", encode(&client)))
        .await;
    report.check(
        retried.status == StatusCode::OK && retried.body["status"] == "duplicate",
        || {
            format!(
                "retry of a failed record whose event was counted: {} {}",
                retried.status, retried.body
            )
        },
    );
    report.check(record.body["status"] == "retried", || {
        format!("after that retry the record reads {}", record.body)
    });
    report.check(
        totals.body["count"] == 1 && totals.body["total_amount"] == "7.5",
        || format!("that event must be counted once: {}", totals.body),
    );
    report.item(
        "counted, then kept as failed",
        format!(
            "every TransactWriteItems answer dropped (committed, not heard): {} {}; retry: {} {}; record status {}; /aggregates count {} total {}",
            kept.status.as_u16(),
            kept.body["error"]["code"],
            retried.status.as_u16(),
            retried.body["status"],
            record.body["status"],
            totals.body["count"],
            totals.body["total_amount"]
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 3. Hot client
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_client_loses_no_update() {
    let _serial = lock_serial().await;
    let size = Size::from_env();
    // HOT_AGGREGATE_SHARDS: the functions' AGGREGATE_SHARDS for this run (the stack's is 4)
    let shards: Option<u32> = std::env::var("HOT_AGGREGATE_SHARDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut report = Report::new(3, "hot_client", size)
        .with_setting(shards.map(|n| format!("HOT_AGGREGATE_SHARDS={n}")));
    let writers = 64;
    let distinct = size.pick(writers * 10, writers * 50);
    let sends = distinct + distinct / 4;
    let instances = 6;

    // GIVEN the functions behind the proxy, 6 instances per function so commits overlap.
    // DynamoDB Local serializes transactions and never answers TransactionConflict, so the
    // proxy stands in for a real table's hot items: a share of the transactions (20 %, or
    // HOT_CONFLICT_SHARE) is cancelled with a TransactionConflict reason.
    let conflict_share: f64 = std::env::var("HOT_CONFLICT_SHARE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.2);
    let settings: Vec<String> = shards
        .map(|n| format!("AGGREGATE_SHARDS={n}"))
        .into_iter()
        .collect();
    // With HOT_AGGREGATE_SHARDS the conflicts are DynamoDB's own rule instead of a share:
    // a transaction updating an aggregate item that another one in flight updates is
    // cancelled, so the shard count decides how often writers collide.
    let conflicts = match shards {
        Some(_) => FaultPlan {
            overlap_conflicts: true,
            ..FaultPlan::none()
        },
        None => FaultPlan {
            kinds: vec![Fault::TransactionConflict],
            operations: vec!["TransactWriteItems".to_owned()],
            ..FaultPlan::every_kind(conflict_share)
        },
    };
    let client = format!("rh{}-hot", run_id());
    let hour = date_ns(2026, 8, 3) + 14 * 3600 * NS;
    let shape = Shape {
        clients: vec![vec![client.clone()]],
        distinct,
        sends,
        single_share: 0.85,
        max_batch: 8,
        window: (hour, 3600 * NS),
    };
    let stage = Scenario::new(shape, writers)
        .through_faults(
            "rel-hot",
            instances,
            &settings,
            conflicts,
            Injected::StorageFaults,
        )
        // the main stack sums 4 aggregate shards: read another count through these functions
        // (faults off by then: conflicts are only drawn for transactions)
        .reading_from_functions(shards.is_some())
        .load_prefix(format!(
            "{} writers, one client id, one hour ({}), {} aggregate shards; ",
            writers,
            canonical_ts(hour),
            shards.unwrap_or(4),
        ))
        .start(&mut report)
        .await;
    let functions = stage.functions();

    // WHEN 64 writers hit the same aggregate items at once
    let elapsed = stage.run().await;
    let stats = functions.proxy.stats();
    stage.report_run(&mut report, elapsed, "");
    report.item("proxy", stats.summary());
    let retries = functions.retry_log();
    let per_event: Vec<u64> = retries.per_event.values().copied().collect();
    report.item(
        "conflict retries",
        format!(
            "{} TransactionConflict cancellations injected ({}), {} answered by DynamoDB Local itself; the functions logged {} store retries ({}); {} single events needed a retry (max {} retries for one event); {:.2} conflict retries per distinct event",
            stats.total_faults(),
            match shards {
                Some(_) => format!("every transaction that updated an aggregate item another transaction in flight was updating: {:.1} % of {} transactions", 100.0 * stats.total_faults() as f64 / stats.calls_of("TransactWriteItems").max(1) as f64, stats.calls_of("TransactWriteItems")),
                None => format!("{:.0} % of transactions, drawn at random", conflict_share * 100.0),
            },
            stats
                .upstream_errors
                .iter()
                .filter(|(k, _)| k.contains("TransactionConflict"))
                .map(|(_, n)| n)
                .sum::<u64>(),
            retries.retries,
            retries.by_reason_line(),
            per_event.len(),
            per_event.iter().max().copied().unwrap_or(0),
            retries.retries as f64 / stage.run.work.events.len().max(1) as f64
        ),
    );

    // THEN no update is lost: counts and totals are exact
    let (summary, truthful) = stage.check_answers(&mut report);
    report.item(
        "exactly once (answers)",
        format!(
            "{} `processed` answers for {} distinct events, {} `duplicate`; for all {truthful} events the first counted answer came after the transaction that stored the event was sent",
            summary.processed_answers,
            stage.run.work.events.len(),
            summary.duplicate_answers
        ),
    );
    let checks = stage
        .check_reads(&mut report, &summary, size.pick(4, 8), 0x407)
        .await;
    let api = stage.reader(0);
    let want = stage.run.work.totals_of(0);
    let hourly = get_ok(
        &mut report,
        &api,
        &format!(
            "/aggregates/hourly?client_id={}&from={}&to={}",
            encode(&client),
            encode(&canonical_ts(hour)),
            encode(&canonical_ts(hour + 3600 * NS))
        ),
    )
    .await;
    if let Some(hourly) = hourly {
        let buckets = hourly["buckets"].as_array().cloned().unwrap_or_default();
        let got = buckets.iter().fold((0u64, 0i128), |(n, t), b| {
            (
                n + b["count"].as_u64().unwrap_or(0),
                t + nano_units(b["total_amount"].as_str().unwrap_or("0")),
            )
        });
        report.check(got == want, || {
            format!("/aggregates/hourly for the hot hour {got:?} != truth {want:?}: {hourly}")
        });
    }
    report.item(
        "reads checked",
        format!(
            "/aggregates (all, one metric, {} ranges inside the hour) and /aggregates/hourly == truth ({} events, total {}) == sum over /events/processed",
            checks.ranges,
            want.0,
            canonical_amount(want.1)
        ),
    );
    report.finish();
}

// ---------------------------------------------------------------------------------------
// 4. Slow storage: the answer must come before the function is killed
// ---------------------------------------------------------------------------------------

/// A storage brownout timed against the functions' retry budget (`fault_proxy::Brownout`):
/// each store operation's first two attempts wait 2.9 s and are throttled, the third waits
/// 2.9 s and succeeds (reads, failed records) or 3.5 s and times out (commits). Every store
/// operation then takes about 9 s, the most its budget allows (no new attempt after 6 s,
/// 3 s per attempt), so a request chaining 3 or 4 of them would take 26–35 s; the request
/// deadline (20 s, `REQUEST_DEADLINE_MS`) must cut them short with a typed answer before the
/// ingest function is killed at 25 s (infra/template.yaml). Regression test: before the
/// deadline existed, three of these four requests answered after 26–35 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_storage_answers_within_the_function_timeout() {
    let _serial = lock_serial().await;
    let mut report = Report::new(4, "slow_storage", Size::Small);
    let functions = ProxiedFunctions::start("rel-slow", FaultPlan::none(), 1).await;
    let brownout = FaultPlan::brownout(Brownout {
        throttled_attempts: 2,
        throttle_hold: Duration::from_millis(2_900),
        operations: vec![
            ("GetItem".to_owned(), Duration::from_millis(2_900)),
            ("PutItem".to_owned(), Duration::from_millis(2_900)),
            ("UpdateItem".to_owned(), Duration::from_millis(2_900)),
            (
                "TransactWriteItems".to_owned(),
                Duration::from_millis(3_500),
            ),
        ],
    });
    report.item(
        "storage",
        "brownout through the fault proxy: per store operation, 2 attempts held 2.9 s then ThrottlingException, the 3rd held 2.9 s then answered (GetItem, PutItem, UpdateItem) or 3.5 s, past the 3 s attempt timeout (TransactWriteItems); AUTH on, 1 instance per function",
    );
    let client = format!("rs{}-c", run_id());
    let event = |amount: &str| {
        format!(
            r#"{{"client_id":"{client}","payload":{{"metric":"m","amount":"{amount}","timestamp":"2026-09-01T10:00:00Z"}}}}"#
        )
    };

    // a failed record to retry, kept through the main stack (no faults)
    let kept = functions
        .stack_api()
        .post_raw(
            "/events",
            event("1").replace("\"payload\"", "\"simulateFailure\":true,\"payload\""),
        )
        .await;
    let failed_id = kept.body["failed_id"].as_str().expect("kept").to_owned();

    let mut cases: Vec<(&str, &str, String, String)> = vec![
        (
            "new event, key cached: commit fails late, failed record kept late (2 operations)",
            "cached",
            "/events".to_owned(),
            event("2"),
        ),
        (
            "retry of a failed record, key cached: read record, commit fails late, record the attempt (3 operations)",
            "cached",
            format!("/events/failed/{}/retry", encode(&failed_id)),
            String::new(),
        ),
    ];
    // a key this instance never saw: two more reads before any work
    let (_, cold_key) = new_tenant("rel-slow-cold", &format!("{client}*")).await;
    cases.push((
        "new event, key not cached: 2 key reads, commit fails late, failed record kept late (4 operations)",
        "cold",
        "/events".to_owned(),
        event("3"),
    ));
    // and a batch, with yet another key: its 20 s deadline starts after the key reads
    let (_, cold_batch_key) = new_tenant("rel-slow-cold", &format!("{client}*")).await;
    cases.push((
        "batch of 3 new events, key not cached: 2 key reads, then commit and failed records inside the 20 s batch deadline",
        "cold batch",
        "/events".to_owned(),
        format!("{{\"events\":[{},{},{}]}}", event("4"), event("5"), event("6")),
    ));
    for (what, key, path, body) in cases {
        if key == "cached" {
            // the local stack caches keys for 5 s only, per function instance: have ingest read
            // it again, storage healthy (a body that is not JSON is refused after the key check)
            functions.proxy.set_plan(FaultPlan::none());
            let warm = functions.api().post_raw("/events", "not json").await;
            assert_eq!(warm.status, StatusCode::BAD_REQUEST, "{}", warm.body);
        }
        functions.proxy.set_plan(brownout.clone());
        let key = match key {
            "cold" => cold_key.as_str(),
            "cold batch" => cold_batch_key.as_str(),
            _ => functions.key.as_str(),
        };
        let (seconds, status, body) = timed_post(&functions.base, key, &path, body).await;
        let code = body["error"]["code"]
            .as_str()
            .or(body["status"].as_str())
            .map(str::to_owned)
            .or_else(|| {
                body["results"].as_array().map(|items| {
                    let codes: Vec<&str> = items
                        .iter()
                        .map(|i| i["error"]["code"].as_str().unwrap_or("?"))
                        .collect();
                    format!("items {}", codes.join(","))
                })
            })
            .unwrap_or_else(|| "?".to_owned());
        report.item(what, format!("{status} {code} after {seconds:.1} s"));
        report.check(seconds < INGEST_TIMEOUT.as_secs_f64(), || {
            format!("{what}: answered after {seconds:.1} s, past the ingest function's 25 s timeout (in AWS: killed, API Gateway answers 502/504 instead of the typed {status})")
        });
        // the request deadline, plus time for the answer to travel through the emulator
        report.check(seconds < REQUEST_DEADLINE.as_secs_f64() + 1.5, || {
            format!("{what}: answered after {seconds:.1} s, past the 20 s request deadline")
        });
        report.check(answer_is_typed(status, &body), || {
            format!(
                "{what}: {status} is not one of the contract's answers to a failing store: {body}"
            )
        });
    }
    functions.proxy.set_share(0.0);
    report.item("proxy", functions.proxy.stats().summary());
    report.finish();
}
