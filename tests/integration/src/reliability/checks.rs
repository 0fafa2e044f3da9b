//! The checks of a reliability run: the client's ledger (each event counted once, under one
//! hash, never answered before its commit), the service's own reads against the truth and
//! against each other, latency bounds, and the report lines that say what was measured.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde_json::Value;

use super::calendar::{canonical_ts, format_ts, Zone, NS};
use super::client::Run;
use super::spelling::canonical_amount;
use super::workload::{Event, Workload, METRICS};
use crate::fault_proxy::{FaultProxy, ProxyStats};
use crate::report::{quantile, Report};
use crate::{encode, nano_units, Api, StatusCode};

/// `Timeout` of the ingest function in infra/template.yaml: no answer may take longer.
pub const INGEST_TIMEOUT: Duration = Duration::from_secs(25);
/// `REQUEST_DEADLINE_MS`'s default: every request answers by then.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(20);

pub struct LedgerSummary {
    pub processed_answers: u64,
    pub duplicate_answers: u64,
    pub ambiguous_events: usize,
    /// The hash every send of each event was answered with.
    pub hash_of: Vec<Option<String>>,
}

/// Every send settled, every event answered with one hash (distinct events with distinct
/// ones), at most one `processed` per event, and exactly one when every answer about it
/// was definite. Exact under faults too: a commit whose answer was lost is retried with the
/// same idempotency token, so the event is still answered `processed` once, unless some
/// answer about it was a 5xx, `unavailable` or a failed record (then a later send may only
/// find it counted).
pub fn check_ledger(report: &mut Report, run: &Run) -> LedgerSummary {
    let ledger = run.ledger();
    let unsettled: Vec<usize> = (0..ledger.settled.len())
        .filter(|&s| !ledger.settled[s])
        .collect();
    report.check(unsettled.is_empty(), || {
        format!(
            "{} sends never ended counted (client gave up on {}); first: {}",
            unsettled.len(),
            ledger.gave_up.len(),
            unsettled
                .first()
                .map(|&s| run.work.sends[s].body.clone())
                .unwrap_or_default()
        )
    });
    report.check(ledger.unexpected.is_empty(), || {
        format!(
            "{} answers the contract does not allow, first ones: {}",
            ledger.unexpected.len(),
            ledger
                .unexpected
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        )
    });
    let mut summary = LedgerSummary {
        processed_answers: 0,
        duplicate_answers: 0,
        ambiguous_events: 0,
        hash_of: Vec::with_capacity(ledger.events.len()),
    };
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let (mut twice, mut never, mut many_hashes, mut shared_hash) = (0, 0, 0, 0);
    let mut examples = Vec::new();
    for (event, log) in ledger.events.iter().enumerate() {
        summary.processed_answers += u64::from(log.processed);
        summary.duplicate_answers += u64::from(log.duplicates);
        summary.ambiguous_events += usize::from(log.ambiguous);
        if log.processed > 1 {
            twice += 1;
            examples.push(format!(
                "event {:?} answered processed {} times",
                run.work.events[event], log.processed
            ));
        }
        if log.processed == 0 && !log.ambiguous && !log.hashes.is_empty() {
            never += 1;
            examples.push(format!(
                "event {:?} never answered processed, only duplicate",
                run.work.events[event]
            ));
        }
        if log.hashes.len() > 1 {
            many_hashes += 1;
            examples.push(format!(
                "event {:?} has hashes {:?}",
                run.work.events[event], log.hashes
            ));
        }
        let only = log.hashes.iter().next().filter(|_| log.hashes.len() == 1);
        if let Some(hash) = only {
            if let Some(other) = owner.insert(hash.as_str(), event) {
                shared_hash += 1;
                examples.push(format!(
                    "events {:?} and {:?} share hash {hash}",
                    run.work.events[other], run.work.events[event]
                ));
            }
        }
        summary.hash_of.push(only.cloned());
    }
    report.check(twice == 0, || {
        format!("{twice} events answered `processed` more than once")
    });
    report.check(never == 0, || {
        format!("{never} events got only definite `duplicate` answers: none was the one that counted them")
    });
    report.check(many_hashes == 0, || {
        format!("{many_hashes} events answered with different hashes in different spellings")
    });
    report.check(shared_hash == 0, || {
        format!("{shared_hash} distinct events share a hash")
    });
    for example in examples.into_iter().take(5) {
        report.fail(example);
    }
    summary
}

/// No answer lies: every `processed` or `duplicate` answer came after the transaction that
/// stored the event was sent to DynamoDB (as the proxy between the functions and DynamoDB saw
/// it). A commit that failed but was answered as counted would otherwise hide behind a later
/// re-send of the same event.
pub fn check_answers_follow_commits(report: &mut Report, run: &Run, proxy: &FaultProxy) -> usize {
    let ledger = run.ledger();
    let (mut checked, mut early) = (0, Vec::new());
    for (event, log) in ledger.events.iter().enumerate() {
        let (Some(answered), Some(hash)) = (log.first_counted, log.hashes.iter().next()) else {
            continue;
        };
        checked += 1;
        match proxy.first_commit(hash) {
            Some(committed) if committed <= answered => {}
            Some(committed) => early.push(format!(
                "event {:?} was answered counted {} ms before the transaction that stored it was sent",
                run.work.events[event],
                (committed - answered).as_millis()
            )),
            None => early.push(format!(
                "event {:?} was answered counted ({} processed, {} duplicate) but never committed through the proxy",
                run.work.events[event], log.processed, log.duplicates
            )),
        }
    }
    report.check(early.is_empty(), || {
        format!(
            "{} events were answered `processed`/`duplicate` before (or without) being committed",
            early.len()
        )
    });
    for text in early.into_iter().take(3) {
        report.fail(text);
    }
    checked
}

pub async fn get_ok(report: &mut Report, api: &Api, path: &str) -> Option<Value> {
    let reply = api.get(path).await;
    if reply.status != StatusCode::OK {
        report.fail(format!("GET {path}: {} {}", reply.status, reply.body));
        return None;
    }
    Some(reply.body)
}

/// Every item of a listing (`/events/processed?…`, `/events/failed?…`), following
/// `next_cursor`; `Err` with the items read so far when a page failed (reported).
pub async fn list_all(
    report: &mut Report,
    api: &Api,
    path_and_query: &str,
) -> Result<Vec<Value>, Vec<Value>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{path_and_query}&limit=200");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", encode(c)));
        }
        let Some(page) = get_ok(report, api, &path).await else {
            return Err(items);
        };
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(items),
        }
    }
}

/// (count, total in 10^-9 units) of a listing.
fn listed_sums(items: &[Value]) -> (u64, i128) {
    let total = items
        .iter()
        .map(|i| nano_units(i["amount"].as_str().unwrap_or("0")))
        .sum();
    (items.len() as u64, total)
}

/// (count, total in 10^-9 units) of `/aggregates?{query}`.
pub async fn aggregates(report: &mut Report, api: &Api, query: &str) -> Option<(u64, i128)> {
    let body = get_ok(report, api, &format!("/aggregates?{query}")).await?;
    Some(totals(&body))
}

/// (count, total in 10^-9 units) of an `/aggregates` answer.
pub fn totals(body: &Value) -> (u64, i128) {
    (
        body["count"].as_u64().unwrap_or(u64::MAX),
        nano_units(body["total_amount"].as_str().unwrap_or("0")),
    )
}

/// How many reads `check_client_reads` checked.
#[derive(Default)]
pub struct ReadChecks {
    pub clients: usize,
    pub ranges: usize,
    pub listed: usize,
}

impl ReadChecks {
    /// The report's `reads checked` line; `detail` says more about the listed events.
    pub fn line(&self, detail: &str) -> String {
        format!(
            "{} clients: /aggregates (all, one metric, {} random ranges) == truth == sum over /events/processed ({} listed events{detail})",
            self.clients, self.ranges, self.listed
        )
    }
}

/// For `client`: `/aggregates` (whole, per metric, random ranges) equals the truth and the
/// sum over `/events/processed`; the listing holds exactly the client's events, each once,
/// in canonical form, under the hash its sends were answered with.
#[allow(clippy::too_many_arguments)]
pub async fn check_client_reads(
    report: &mut Report,
    api: &Api,
    work: &Workload,
    hash_of: &[Option<String>],
    client: usize,
    ranges: usize,
    rng: &mut fastrand::Rng,
    checks: &mut ReadChecks,
) {
    let id = &work.clients[client].id;
    let mine: Vec<usize> = (0..work.events.len())
        .filter(|&e| work.events[e].client == client)
        .collect();
    let truth = |filter: &dyn Fn(&Event) -> bool| -> (u64, i128) {
        let chosen: Vec<&Event> = mine
            .iter()
            .map(|&e| &work.events[e])
            .filter(|e| filter(e))
            .collect();
        (chosen.len() as u64, chosen.iter().map(|e| e.amount).sum())
    };
    checks.clients += 1;
    let base = format!("client_id={}", encode(id));

    // the whole listing: exactly the client's events
    let Ok(listed) = list_all(report, api, &format!("/events/processed?{base}")).await else {
        return;
    };
    checks.listed += listed.len();
    let expected: HashMap<&str, &Event> = mine
        .iter()
        .filter_map(|&e| hash_of[e].as_deref().map(|h| (h, &work.events[e])))
        .collect();
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for item in &listed {
        let hash = item["event_hash"].as_str().unwrap_or("");
        if !seen.insert(hash.to_owned()) {
            wrong.push(format!("listed twice: {item}"));
            continue;
        }
        let Some(event) = expected.get(hash) else {
            wrong.push(format!(
                "listed but never sent (or its hash never answered): {item}"
            ));
            continue;
        };
        let same = item["client_id"] == id.as_str()
            && item["metric"] == event.metric
            && item["amount"] == canonical_amount(event.amount).as_str()
            && item["timestamp"] == canonical_ts(event.ts).as_str()
            && item["event_id"].as_str() == event.event_id.as_deref();
        if !same {
            wrong.push(format!(
                "listed {item}, sent amount {} at {} metric {} id {:?}",
                canonical_amount(event.amount),
                canonical_ts(event.ts),
                event.metric,
                event.event_id
            ));
        }
    }
    let missing = expected.keys().filter(|h| !seen.contains(**h)).count();
    report.check(missing == 0, || {
        format!("client {id}: {missing} counted events missing from /events/processed")
    });
    report.check(listed.len() == mine.len(), || {
        format!(
            "client {id}: /events/processed lists {} events, {} were sent",
            listed.len(),
            mine.len()
        )
    });
    for text in wrong.into_iter().take(3) {
        report.fail(format!("client {id}: {text}"));
    }

    // the whole range, and one metric
    let all = truth(&|_: &Event| true);
    if let Some(got) = aggregates(report, api, &base).await {
        report.check(got == all, || {
            format!("client {id}: /aggregates {got:?} != truth {all:?} (count, total in 1e-9)")
        });
        report.check(got == listed_sums(&listed), || {
            format!(
                "client {id}: /aggregates {got:?} != sum over /events/processed {:?}",
                listed_sums(&listed)
            )
        });
    }
    let metric = METRICS[rng.usize(..METRICS.len())];
    let want = truth(&|e| e.metric == metric);
    if let Some(got) = aggregates(report, api, &format!("{base}&metric={metric}")).await {
        report.check(got == want, || {
            format!("client {id} metric {metric}: /aggregates {got:?} != truth {want:?}")
        });
    }

    // random ranges, to the millisecond, some open on one side
    let (start, length) = work.window;
    for _ in 0..ranges {
        let ms = |ns: i64| ns - ns.rem_euclid(1_000_000);
        let from = ms(start - 3600 * NS + rng.i64(0..length + 2 * 3600 * NS));
        let to = ms(from + 1_000_000 + rng.i64(0..length / 2));
        let (from, to) = match rng.u8(..6) {
            0 => (None, Some(to)),
            1 => (Some(from), None),
            _ => (Some(from), Some(to)),
        };
        let mut query = base.clone();
        if let Some(from) = from {
            query.push_str(&format!(
                "&from={}",
                encode(&format_ts(from, Zone::Z, Some(3)))
            ));
        }
        if let Some(to) = to {
            query.push_str(&format!("&to={}", encode(&format_ts(to, Zone::Z, Some(3)))));
        }
        let inside = |e: &Event| from.is_none_or(|f| e.ts >= f) && to.is_none_or(|t| e.ts < t);
        let want = truth(&inside);
        checks.ranges += 1;
        let Some(got) = aggregates(report, api, &query).await else {
            continue;
        };
        report.check(got == want, || {
            format!("client {id} range {from:?}..{to:?}: /aggregates {got:?} != truth {want:?}")
        });
        if let Ok(items) = list_all(report, api, &format!("/events/processed?{query}")).await {
            let sums = listed_sums(&items);
            report.check(got == sums, || {
                format!("client {id} range {from:?}..{to:?}: /aggregates {got:?} != sum over /events/processed {sums:?}")
            });
        }
    }
}

/// The run's throughput, latency, answers and client retries, as report lines. `condition`
/// says what the load ran under (" under faults", "" ...).
pub fn report_run(report: &mut Report, run: &Run, elapsed: Duration, condition: &str) {
    let secs = elapsed.as_secs_f64();
    report.item(
        "throughput",
        format!(
            "{:.0} event sends/s{condition} ({:.0} distinct events/s), {} sends in {:.1} s",
            run.work.sends.len() as f64 / secs,
            run.work.events.len() as f64 / secs,
            run.work.sends.len(),
            secs
        ),
    );
    report.item("latency", latency_line(run));
    report.item("answers", answers_line(run));
    report.item("client retries", resends_line(run));
}

/// `p50 / p99 / max` in ms of each kind of request.
fn latency_line(run: &Run) -> String {
    let metrics = run.metrics();
    metrics
        .latency
        .iter()
        .map(|(kind, values)| {
            let mut values = values.clone();
            format!(
                "{kind} ({}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                values.len(),
                quantile(&mut values, 0.5),
                quantile(&mut values, 0.99),
                quantile(&mut values, 1.0),
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn answers_line(run: &Run) -> String {
    let metrics = run.metrics();
    let answers: Vec<String> = metrics
        .answers
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    answers.join(", ")
}

fn resends_line(run: &Run) -> String {
    let metrics = run.metrics();
    let ledger = run.ledger();
    let resends: Vec<String> = metrics
        .resends
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    format!(
        "{} events resent ({}); {} failed records retried with {} calls to /events/failed/{{id}}/retry",
        metrics.resends.values().sum::<u64>(),
        if resends.is_empty() {
            "none".to_owned()
        } else {
            resends.join(", ")
        },
        ledger.failed_ids.len(),
        metrics.failed_retries
    )
}

/// The key and tenant reads (`GetItem`) that went through the faults.
pub fn key_reads_line(stats: &ProxyStats) -> String {
    let faulted: u64 = stats
        .faults_by_operation
        .iter()
        .filter(|((_, operation), _)| operation == "GetItem")
        .map(|(_, n)| n)
        .sum();
    format!(
        "{} GetItem calls (API key and tenant lookups, and failed-record reads), {faulted} of them answered with a fault",
        stats.calls.get("GetItem").copied().unwrap_or(0)
    )
}

/// No answer slower than the ingest function's timeout, no client timeout.
pub fn check_latency(report: &mut Report, run: &Run) {
    let metrics = run.metrics();
    report.check(metrics.timeouts == 0, || {
        format!(
            "{} requests hung past the client's 30 s timeout",
            metrics.timeouts
        )
    });
    if let Some((ms, what)) = &metrics.slowest {
        report.check(*ms < INGEST_TIMEOUT.as_secs_f64() * 1000.0, || {
            format!("slowest answer took {ms:.0} ms (> ingest Timeout 25 s): {what}")
        });
    }
}

/// What the contract lets a request answer while storage fails: the event kept as failed
/// (500, retryable, with its id), or "resend" (503); for a batch, each item one of those.
pub fn answer_is_typed(status: u16, body: &Value) -> bool {
    let kept = |v: &Value| v["retryable"] == true && v["failed_id"].is_string();
    let resend = |v: &Value| v["error"]["code"].as_str().is_some();
    match status {
        500 => body["error"]["code"] == "storage_failed" && kept(body),
        503 => body["error"]["code"] == "storage_unavailable",
        200 => body["results"].as_array().is_some_and(|items| {
            items.iter().all(|item| match item["status"].as_str() {
                Some("failed") => item["error"]["code"] == "storage_failed" && kept(item),
                Some("unavailable") => item["retryable"] == true && resend(item),
                _ => false,
            })
        }),
        _ => false,
    }
}
