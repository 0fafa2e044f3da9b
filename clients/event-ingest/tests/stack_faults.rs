//! End to end through storage faults: `event-ingest send --retry-failed` against a second
//! copy of the functions whose DynamoDB sits behind the fault-injecting proxy (throttling,
//! 500s, resets, late and lost answers, and 7 s outages), so the command meets 503s,
//! `unavailable` items and events kept as failed. Killed with SIGKILL once mid-run and
//! resumed: afterwards `/aggregates`, read through the main stack (no faults) with the same
//! tenant's key, equals the truth exactly.
//!
//! Needs a running stack: `scripts/stack.py with cargo test -p event-ingest -- --ignored`.
//! `E2E_LINES` sets the size (default 3000), `FAULT_SHARE` the share of DynamoDB calls that
//! fail (default 0.15).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use common::{
    assert_aggregates_equal_truth, assert_report_and_rejects, read_json, send_command, stack,
    InputOnDisk,
};
use integration_tests::fault_proxy::{FaultPlan, FaultProxy};
use integration_tests::launcher::ProxiedFunctions;
use serde_json::{json, Value};

/// Resumed runs after the kill, at most: a run ends with events still kept as failed when
/// their retry met the faults again, and the next run retries them.
const MAX_RESUMES: usize = 5;

/// Until `done`: `share` of DynamoDB calls fail, and after every 6 s of that, an outage of
/// 7 s (longer than a store operation's retry budget) in which every call fails without
/// reaching DynamoDB. Returns the number of outages.
fn faults_with_outages(proxy: &FaultProxy, share: f64, done: &AtomicBool) -> u32 {
    let mut outages = 0;
    let pause_unless_done = |d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if done.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    };
    loop {
        if !pause_unless_done(Duration::from_secs(6)) {
            break;
        }
        outages += 1;
        proxy.set_plan(FaultPlan::unforwarded(1.0));
        let going = pause_unless_done(Duration::from_secs(7));
        proxy.set_plan(FaultPlan::every_kind(share));
        if !going {
            break;
        }
    }
    outages
}

/// Starts `command`, waits until it has recorded progress of its own in `state`, then kills
/// it (SIGKILL) at a random moment within the next second.
fn kill_mid_run(mut command: Command, state: &Path, log: &Path) {
    let mut child = command
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start event-ingest");
    let spawned = SystemTime::now();
    let waiting = Instant::now();
    while std::fs::metadata(state)
        .and_then(|m| m.modified())
        .map_or(true, |t| t < spawned)
    {
        assert!(
            waiting.elapsed() < Duration::from_secs(180),
            "no progress recorded: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before recording progress: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(fastrand::u64(0..1000)));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run is still going when it is killed"
    );
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
}

#[test]
#[ignore = "needs the local stack: scripts/stack.py with cargo test -p event-ingest -- --ignored"]
fn through_storage_faults_killed_and_resumed_every_event_is_counted_exactly_once() {
    // GIVEN the functions reaching DynamoDB through the fault proxy, keys on (a cached key
    // expires every second, so key reads meet the faults too), serving a fresh tenant
    let (stack_url, _) = stack();
    let share: f64 = std::env::var("FAULT_SHARE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.15);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let functions = runtime.block_on(ProxiedFunctions::start_with_settings(
        "cli-faults",
        FaultPlan::every_kind(share),
        3,
        &["AUTH_CACHE_SECONDS=1".to_owned()],
    ));
    // and an input with resends in other spellings and invalid lines, for fresh clients
    let InputOnDisk {
        input,
        dir,
        file,
        report_path,
        state_path,
    } = common::input_on_disk("cli-faults", 3000);
    let lines = input.lines;
    let send = || {
        let mut command = send_command(&functions.base, &functions.key, &file, &report_path);
        command.arg("--retry-failed");
        command
    };

    // WHEN `send --retry-failed` runs through the faults and outages, is killed once mid-run,
    // and is run again until it ends with nothing kept as failed
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let (outages, runs) = std::thread::scope(|scope| {
        let outages = scope.spawn(|| faults_with_outages(&functions.proxy, share, &done));
        kill_mid_run(send(), &state_path, &dir.path().join("killed.log"));
        let mut runs: Vec<(Option<i32>, Value)> = Vec::new();
        for _ in 0..MAX_RESUMES {
            let output = send().output().expect("run event-ingest");
            let report = read_json(&report_path);
            let settled = report["ending"] == json!("complete") && report["failed"] == json!(0);
            eprintln!(
                "resumed run {}: status {:?}, report {report}; stderr: {}",
                runs.len() + 1,
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            );
            runs.push((output.status.code(), report));
            if settled {
                break;
            }
        }
        done.store(true, Ordering::Relaxed);
        (outages.join().unwrap(), runs)
    });
    let elapsed = started.elapsed();
    let proxy = functions.proxy.stats();

    // THEN the last run completes with nothing failed (status 1: some lines rejected)
    let (status, report) = runs.last().unwrap();
    assert_eq!(report["ending"], json!("complete"), "{report}");
    assert_eq!(*status, Some(1), "{report}");
    // the first resumed run skipped what was acknowledged before the kill
    assert!(
        runs[0].1["skipped_acknowledged"].as_u64().unwrap() > 0,
        "the resumed run skipped acknowledged lines: {}",
        runs[0].1
    );
    // the report adds up to the input, the rejects file holds exactly the invalid lines
    assert_report_and_rejects(
        &input,
        report,
        &dir.path().join("events.ndjson.rejects.ndjson"),
    );
    // the faults really reached the command: resent `unavailable` items or retried requests
    let sum_of = |key: &str| -> u64 { runs.iter().map(|(_, r)| r[key].as_u64().unwrap()).sum() };
    let (unavailable_resent, retries) = (sum_of("unavailable_resent"), sum_of("retries"));
    assert!(
        unavailable_resent + retries > 0,
        "the faults hit the command: {report}"
    );
    assert!(proxy.total_faults() > 0);

    // and /aggregates, through the main stack with the tenant's key, equals the truth exactly
    assert_aggregates_equal_truth(&stack_url, &functions.key, &input);
    eprintln!(
        "{lines} lines ({} invalid, {} distinct events) in {:.0} s through {} of {} DynamoDB calls failing and {outages} outage(s) of 7 s; {} resumed run(s): unavailable_resent {unavailable_resent}, retries {retries}, retried_failed {}; {}",
        input.invalid.len(),
        input.distinct_events(),
        elapsed.as_secs_f64(),
        proxy.total_faults(),
        proxy.total_calls(),
        runs.len(),
        sum_of("retried_failed"),
        proxy.fault_lines().join("; ")
    );
}
