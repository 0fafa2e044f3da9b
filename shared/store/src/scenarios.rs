//! Scenarios every `Store` must pass (feature `scenarios`, for tests only). They run against
//! `MemoryStore` (this crate's tests/memory.rs) and against DynamoDB in LocalStack (the
//! integration-tests crate's tests/store_dynamo.rs): the in-memory twin the handlers are
//! tested with is only worth having if it answers exactly like the real store.

use std::collections::HashSet;

use crate::{
    new_failed_id, AggregateQuery, AggregateTotals, CommitOutcome, FailedId, FailedQuery,
    FailedRecord, FailedStatus, FailureReason, HourlyQuery, Page, ProcessedQuery, ProcessedRecord,
    Store, StoreError,
};
use chrono::{DateTime, FixedOffset};
use event_core::{normalize_event, AmountSum, ClientId, EventTimestamp, Metric};
use serde_json::value::RawValue;

mod batches;
mod limits;
mod replay;
pub use batches::{
    a_batch_of_only_duplicates_changes_nothing, a_batch_of_only_duplicates_costs_no_write,
    a_batch_over_many_clients_and_hours_counts_each_event_once,
    a_mixed_batch_writes_only_its_new_events, batches_racing_on_the_same_events_count_each_once,
    commit_batch, counts_equal, overlapping_concurrent_batches_count_each_event_once,
};
pub use limits::{
    a_take_follows_the_bucket_and_the_quota, racing_takes_never_overdraw_the_bucket,
    usage_counts_add_up,
};
pub use replay::{replay_selection_walks_every_matching_record_once, selection, walk_replay};

pub const SEC: i64 = 1_000_000_000;
pub const HOUR: i64 = 3_600 * SEC;
/// 2024-03-10T00:00:00Z: whole hour, safely in the past.
pub const BASE: i64 = 1_710_028_800 * SEC;

pub fn ts(ns: i64) -> EventTimestamp {
    EventTimestamp::from_unix_nanos(ns).expect("not before 1970")
}

pub fn now() -> EventTimestamp {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    ts(i64::try_from(ns).expect("before 2262"))
}

pub fn client(id: &str) -> ClientId {
    ClientId::parse(id).expect("valid client id")
}

/// Normalizes one JSON event exactly as the ingest handler does.
pub fn normalize(json: &str) -> ProcessedRecord {
    let raw = RawValue::from_string(json.to_owned()).expect("JSON");
    let received_at = now();
    let parsed = normalize_event(&raw, received_at).unwrap_or_else(|e| panic!("{json}: {e}"));
    ProcessedRecord {
        event: parsed.event,
        hash: parsed.hash,
        received_at,
    }
}

/// An event; `id` keeps otherwise equal events apart (`event_id`).
pub fn event(client: &str, metric: &str, amount: &str, at_ns: i64, id: usize) -> ProcessedRecord {
    normalize(&format!(
        r#"{{"client_id":"{client}","source":"test","event_id":"e{id}",
            "payload":{{"metric":"{metric}","amount":"{amount}","timestamp":"{}"}}}}"#,
        ts(at_ns)
    ))
}

/// Sixteen spellings of the same event `i` (whole-second timestamp `at_s`, amount in cents):
/// offsets, epoch seconds and milliseconds, numbers and strings, padded metric, other source.
pub fn spellings(client: &str, i: usize, at_s: i64, cents: i64) -> Vec<String> {
    let utc = DateTime::from_timestamp(at_s, 0).expect("in range");
    let plus2 = utc
        .with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    let minus5 = utc
        .with_timezone(&FixedOffset::west_opt(5 * 3600 + 1800).unwrap())
        .to_rfc3339();
    let z = utc.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let frac = utc.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string();
    let no_offset = utc.format("%Y-%m-%dT%H:%M:%S").to_string();
    let timestamps = [
        format!("\"{z}\""),
        format!("\"{plus2}\""),
        format!("\"{minus5}\""),
        format!("{at_s}"),
        format!("{}", at_s * 1000),
        format!("\"{frac}\""),
        format!("\"{no_offset}\""),
        format!("\"{}\"", plus2.replace('+', " ")),
    ];
    let (units, rest) = (cents / 100, cents % 100);
    let amounts = [
        format!("\"{units}.{rest:02}\""),
        format!("{units}.{rest:02}0"),
        format!("\"{units}.{rest:02}000\""),
        format!("{}e-2", cents),
    ];
    (0..16)
        .map(|s| {
            format!(
                r#"{{"client_id":"{client}","source":"src{s}","event_id":"ev-{i}",
                    "payload":{{"metric":"{metric}","amount":{amount},"timestamp":{time}}}}}"#,
                metric = if s % 2 == 0 {
                    "purchase"
                } else {
                    "  purchase "
                },
                amount = amounts[s % amounts.len()],
                time = timestamps[(s / 2 + s) % timestamps.len()],
            )
        })
        .collect()
}

pub fn sum(records: &[&ProcessedRecord]) -> AggregateTotals {
    let mut totals = AggregateTotals::default();
    for record in records {
        totals.count += 1;
        totals.total = totals
            .total
            .checked_add(AmountSum::from(record.event.amount))
            .expect("no overflow");
    }
    totals
}

/// Sort order of both stores: newest first by (timestamp, hash).
pub fn newest_first(records: &mut [ProcessedRecord]) {
    records.sort_by(|a, b| {
        (b.event.timestamp, b.hash.to_string()).cmp(&(a.event.timestamp, a.hash.to_string()))
    });
}

pub async fn aggregate<S: Store>(
    store: &S,
    client_id: &ClientId,
    from: Option<i64>,
    to: Option<i64>,
    metric: Option<&str>,
) -> AggregateTotals {
    store
        .aggregate(&AggregateQuery {
            client_id: client_id.clone(),
            from: from.map(ts),
            to: to.map(ts),
            metric: metric.map(|m| Metric::parse(m).unwrap()),
        })
        .await
        .expect("aggregate")
}

/// Every page of a processed listing, with page sizes drawn from `limits`.
pub async fn walk_processed<S: Store>(
    store: &S,
    client_id: Option<&ClientId>,
    from: Option<i64>,
    to: Option<i64>,
    rng: &mut fastrand::Rng,
    max_limit: u32,
) -> Vec<ProcessedRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page: Page<ProcessedRecord> = store
            .list_processed(&ProcessedQuery {
                client_id: client_id.cloned(),
                from: from.map(ts),
                to: to.map(ts),
                limit: rng.u32(1..=max_limit),
                cursor: cursor.take(),
            })
            .await
            .expect("list_processed");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
    panic!("listing did not end");
}

pub async fn walk_failed<S: Store>(
    store: &S,
    client_id: Option<&ClientId>,
    rng: &mut fastrand::Rng,
) -> Vec<FailedRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_failed(&FailedQuery {
                client_id: client_id.cloned(),
                limit: rng.u32(1..=4),
                cursor: cursor.take(),
            })
            .await
            .expect("list_failed");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return out,
        }
    }
}

fn hashes(records: &[ProcessedRecord]) -> Vec<String> {
    records.iter().map(|r| r.hash.to_string()).collect()
}

// ------------------------------------------------------------------------------ scenarios

/// GIVEN an event WHEN it is committed again, in other spellings too THEN it counts once.
pub async fn a_resent_event_counts_once<S: Store>(store: &S) {
    let acme = client("acme");
    let spelled = spellings("acme", 1, BASE / SEC + 42, 1250);
    let first = normalize(&spelled[0]);
    assert_eq!(
        store.commit_event(&first).await.unwrap(),
        CommitOutcome::Processed
    );
    for json in &spelled {
        let again = normalize(json);
        assert_eq!(again.hash, first.hash, "{json}");
        assert_eq!(
            store.commit_event(&again).await.unwrap(),
            CommitOutcome::Duplicate
        );
    }
    let totals = aggregate(store, &acme, None, None, None).await;
    assert_eq!(totals.count, 1);
    assert_eq!(totals.total.to_string(), "12.5");
    let listed = walk_processed(store, Some(&acme), None, None, &mut fastrand::Rng::new(), 5).await;
    assert_eq!(listed, vec![first.clone()]);
    assert_eq!(
        listed[0].event.source.as_str(),
        "src0",
        "the first spelling is kept"
    );
}

/// GIVEN a failed event WHEN it is retried (twice) THEN it counts once, the second retry is a
/// duplicate, and the record says `retried` with each attempt counted.
pub async fn a_failed_event_is_retried_once<S: Store>(store: &S, shards: u32) {
    let acme = client("acme");
    let received = now();
    let raw = r#"{"client_id":"acme","payload":{"metric":"m","amount":"7","timestamp":"2024-03-10T01:30:00Z"},"simulateFailure":true}"#;
    let id = new_failed_id(received, shards);
    let record = FailedRecord {
        failed_id: id.clone(),
        client_id: Some(acme.clone()),
        reason: FailureReason {
            code: "simulated_failure".to_owned(),
            message: "processing failed on purpose".to_owned(),
            field: None,
        },
        raw: raw.to_owned(),
        raw_truncated: false,
        received_at: received,
        attempts: 1,
        status: FailedStatus::Failed,
    };
    store.put_failed(&record).await.unwrap();
    // A resent put (its first answer lost) keeps the record as it is.
    store.put_failed(&record).await.unwrap();
    assert_eq!(store.get_failed(&id).await.unwrap(), Some(record.clone()));

    store.record_failed_attempt(&id).await.unwrap();
    assert_eq!(store.get_failed(&id).await.unwrap().unwrap().attempts, 2);

    let event = normalize(raw);
    assert_eq!(
        store.commit_retry(&event, &id).await.unwrap(),
        CommitOutcome::Processed
    );
    let after = store.get_failed(&id).await.unwrap().unwrap();
    assert_eq!((after.status, after.attempts), (FailedStatus::Retried, 3));
    assert_eq!(after.raw, raw);

    assert_eq!(
        store.commit_retry(&event, &id).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(
        store.commit_event(&event).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let after = store.get_failed(&id).await.unwrap().unwrap();
    assert_eq!((after.status, after.attempts), (FailedStatus::Retried, 4));
    let totals = aggregate(store, &acme, None, None, None).await;
    assert_eq!(
        (totals.count, totals.total.to_string()),
        (1, "7".to_owned())
    );

    // Unknown or malformed ids are simply not found.
    for unknown in [
        new_failed_id(received, shards),
        FailedId("nope".to_owned()),
        FailedId(String::new()),
        FailedId(format!("{}x", id.0)),
    ] {
        assert_eq!(
            store.get_failed(&unknown).await.unwrap(),
            None,
            "{unknown:?}"
        );
    }
    // A retry of a record that does not exist changes nothing.
    let other = event_with_metric(&event, "other");
    let missing = new_failed_id(received, shards);
    assert!(matches!(
        store.commit_retry(&other, &missing).await,
        Err(StoreError::Internal(_))
    ));
    assert_eq!(aggregate(store, &acme, None, None, None).await.count, 1);
}

fn event_with_metric(record: &ProcessedRecord, metric: &str) -> ProcessedRecord {
    let mut event = record.event.clone();
    event.metric = Metric::parse(metric).unwrap();
    ProcessedRecord {
        hash: event.hash(),
        event,
        received_at: record.received_at,
    }
}

/// Records for the listing and aggregate scenarios: three clients, two metrics, six hours,
/// ties on the same nanosecond, events exactly on hour boundaries.
pub fn fixture(rng: &mut fastrand::Rng, per_client: usize) -> Vec<ProcessedRecord> {
    let mut records = Vec::new();
    let mut id = 0;
    for name in ["acme", "beta", "gamma"] {
        for _ in 0..per_client {
            id += 1;
            let at = match rng.u8(0..10) {
                0 => BASE + HOUR * rng.i64(0..6), // on a boundary
                1 => BASE + HOUR * 2 + 17,        // a shared instant (ties)
                _ => BASE + rng.i64(0..6 * HOUR),
            };
            let metric = if rng.bool() { "purchase" } else { "refund" };
            let amount = format!("{}.{:03}", rng.i64(-50..500), rng.u16(0..1000));
            records.push(event(name, metric, &amount, at, id));
        }
    }
    records
}

pub async fn commit_all<S: Store>(store: &S, records: &[ProcessedRecord]) {
    for record in records {
        assert_eq!(
            store.commit_event(record).await.unwrap(),
            CommitOutcome::Processed
        );
    }
}

/// GIVEN events WHEN listed with random page sizes THEN every page is newest first and the
/// walk returns every matching item exactly once, `from <= timestamp < to` exactly.
pub async fn pagination_walks_every_item_once<S: Store>(store: &S, seed: u64, per_client: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut records = fixture(&mut rng, per_client);
    commit_all(store, &records).await;
    newest_first(&mut records);

    let mut bounds: Vec<(Option<i64>, Option<i64>)> = vec![
        (None, None),
        (Some(BASE + 2 * HOUR + 17), None),
        (None, Some(BASE + 2 * HOUR + 17)),
        (Some(BASE + HOUR), Some(BASE + 3 * HOUR)),
        (Some(BASE + 2 * HOUR + 17), Some(BASE + 2 * HOUR + 18)),
        (Some(BASE + 7 * HOUR), None),
    ];
    for _ in 0..3 {
        let a = records[rng.usize(..records.len())]
            .event
            .timestamp
            .unix_nanos();
        let b = records[rng.usize(..records.len())]
            .event
            .timestamp
            .unix_nanos();
        bounds.push((Some(a.min(b)), Some(a.max(b) + rng.i64(0..2))));
    }
    let clients = [None, Some(client("acme")), Some(client("gamma"))];
    for (from, to) in bounds {
        for who in &clients {
            let expected: Vec<ProcessedRecord> = records
                .iter()
                .filter(|r| who.as_ref().is_none_or(|c| r.event.client_id == *c))
                .filter(|r| from.is_none_or(|f| r.event.timestamp.unix_nanos() >= f))
                .filter(|r| to.is_none_or(|t| r.event.timestamp.unix_nanos() < t))
                .cloned()
                .collect();
            let listed = walk_processed(store, who.as_ref(), from, to, &mut rng, 7).await;
            let unique: HashSet<String> = hashes(&listed).into_iter().collect();
            assert_eq!(unique.len(), listed.len(), "no item twice");
            assert_eq!(
                hashes(&listed),
                hashes(&expected),
                "client {who:?} from {from:?} to {to:?}"
            );
            assert_eq!(listed, expected);
        }
    }
}

/// GIVEN a cursor WHEN it is used with another query, or is not a cursor THEN InvalidCursor.
pub async fn cursors_only_fit_their_own_query<S: Store>(store: &S) {
    let records: Vec<ProcessedRecord> = (0..5)
        .map(|i| event("acme", "m", "1", BASE + i * SEC, 900 + i as usize))
        .collect();
    commit_all(store, &records).await;
    let query = ProcessedQuery {
        client_id: Some(client("acme")),
        from: Some(ts(BASE)),
        to: Some(ts(BASE + HOUR)),
        limit: 2,
        cursor: None,
    };
    let page = store.list_processed(&query).await.unwrap();
    let cursor = page.next_cursor.expect("more remain");
    let with = |q: ProcessedQuery| ProcessedQuery {
        cursor: Some(cursor.clone()),
        ..q
    };
    // Same query, another page size: fine.
    let next = store
        .list_processed(&with(ProcessedQuery {
            limit: 3,
            ..query.clone()
        }))
        .await
        .unwrap();
    assert_eq!(next.items.len(), 3);
    for other in [
        ProcessedQuery {
            client_id: Some(client("beta")),
            ..query.clone()
        },
        ProcessedQuery {
            client_id: None,
            ..query.clone()
        },
        ProcessedQuery {
            from: Some(ts(BASE + 1)),
            ..query.clone()
        },
        ProcessedQuery {
            to: None,
            ..query.clone()
        },
    ] {
        assert!(matches!(
            store.list_processed(&with(other)).await,
            Err(StoreError::InvalidCursor)
        ));
    }
    for garbage in ["", "x", "%%%", "eyJ2IjoxfQ", &format!("{cursor}A")] {
        let q = ProcessedQuery {
            cursor: Some(garbage.to_owned()),
            ..query.clone()
        };
        assert!(
            matches!(
                store.list_processed(&q).await,
                Err(StoreError::InvalidCursor)
            ),
            "{garbage}"
        );
    }
    let failed_query = FailedQuery {
        client_id: Some(client("acme")),
        limit: 2,
        cursor: Some(cursor),
    };
    assert!(matches!(
        store.list_failed(&failed_query).await,
        Err(StoreError::InvalidCursor)
    ));
}

/// GIVEN events WHEN aggregated over random ranges (whole and partial hours, open bounds,
/// with and without metric) THEN the totals equal the sum of the listed events, exactly.
pub async fn aggregates_equal_the_listed_events<S: Store>(store: &S, seed: u64, per_client: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let records = fixture(&mut rng, per_client);
    commit_all(store, &records).await;
    let acme = client("acme");
    let mut ranges: Vec<(Option<i64>, Option<i64>)> = vec![
        (None, None),
        (Some(BASE), Some(BASE + 6 * HOUR)),
        (Some(BASE + HOUR), Some(BASE + 2 * HOUR)),
        (Some(BASE + HOUR + 1), Some(BASE + 2 * HOUR - 1)),
        (Some(BASE + 2 * HOUR + 17), Some(BASE + 2 * HOUR + 18)),
        (
            Some(BASE + 30 * 60 * SEC),
            Some(BASE + 5 * HOUR + 30 * 60 * SEC),
        ),
        (None, Some(BASE + 3 * HOUR + 5)),
        (Some(BASE + 3 * HOUR + 5), None),
    ];
    for _ in 0..12 {
        let pick = |rng: &mut fastrand::Rng| match rng.u8(0..3) {
            0 => records[rng.usize(..records.len())]
                .event
                .timestamp
                .unix_nanos(),
            1 => BASE + HOUR * rng.i64(0..7),
            _ => BASE + rng.i64(-HOUR..7 * HOUR),
        };
        let (a, b) = (pick(&mut rng), pick(&mut rng));
        if a != b {
            ranges.push((Some(a.min(b)), Some(a.max(b))));
        }
    }
    for (from, to) in ranges {
        for metric in [None, Some("purchase"), Some("refund"), Some("never")] {
            let listed = walk_processed(store, Some(&acme), from, to, &mut rng, 50).await;
            let matching: Vec<&ProcessedRecord> = listed
                .iter()
                .filter(|r| metric.is_none_or(|m| r.event.metric.as_str() == m))
                .collect();
            let expected_records: Vec<&ProcessedRecord> = records
                .iter()
                .filter(|r| r.event.client_id == acme)
                .filter(|r| from.is_none_or(|f| r.event.timestamp.unix_nanos() >= f))
                .filter(|r| to.is_none_or(|t| r.event.timestamp.unix_nanos() < t))
                .filter(|r| metric.is_none_or(|m| r.event.metric.as_str() == m))
                .collect();
            let got = aggregate(store, &acme, from, to, metric).await;
            assert_eq!(
                got,
                sum(&matching),
                "from {from:?} to {to:?} metric {metric:?}"
            );
            assert_eq!(
                got,
                sum(&expected_records),
                "from {from:?} to {to:?} metric {metric:?}"
            );
        }
    }
}

/// GIVEN events over several hours WHEN read as an hourly series (with and without metric,
/// over whole-hour ranges) THEN there is one bucket per hour, each equal to the aggregate of
/// its hour, and together equal to the aggregate of the range.
pub async fn hourly_buckets_add_up_to_the_aggregate<S: Store>(store: &S, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let records = fixture(&mut rng, 30);
    commit_all(store, &records).await;
    let acme = client("acme");
    for (first, last) in [(0, 7), (1, 3), (-2, 1), (5, 6), (6, 9)] {
        let (from, to) = (BASE + first * HOUR, BASE + last * HOUR);
        for metric in [None, Some("purchase"), Some("never")] {
            let query = HourlyQuery {
                client_id: acme.clone(),
                from: ts(from),
                to: ts(to),
                metric: metric.map(|m| Metric::parse(m).unwrap()),
            };
            let buckets = store.aggregate_hourly(&query).await.expect("hourly");
            assert_eq!(buckets.len() as i64, last - first, "one bucket per hour");
            let mut count = 0;
            let mut total = AmountSum::default();
            for (i, bucket) in buckets.iter().enumerate() {
                let hour = from + i as i64 * HOUR;
                assert_eq!(bucket.hour, ts(hour));
                let alone = aggregate(store, &acme, Some(hour), Some(hour + HOUR), metric).await;
                let got = AggregateTotals {
                    count: bucket.count,
                    total: bucket.total,
                };
                assert_eq!(got, alone, "hour {i} metric {metric:?}");
                count += bucket.count;
                total = total.checked_add(bucket.total).expect("in range");
            }
            let whole = aggregate(store, &acme, Some(from), Some(to), metric).await;
            assert_eq!(
                AggregateTotals { count, total },
                whole,
                "{first}..{last} metric {metric:?}"
            );
        }
    }
}

/// GIVEN failed and rejected records WHEN listed (all, by client) with random page sizes THEN
/// newest first by receipt, each exactly once.
pub async fn failed_listing_walks_every_record_once<S: Store>(store: &S, shards: u32) {
    let mut rng = fastrand::Rng::with_seed(7);
    let start = now().unix_nanos();
    let mut records = Vec::new();
    for i in 0..23i64 {
        let received = ts(start + i * 1_000 + rng.i64(0..500));
        let who = match i % 3 {
            0 => Some(client("acme")),
            1 => Some(client("beta")),
            _ => None,
        };
        let status = if i % 2 == 0 {
            FailedStatus::Rejected
        } else {
            FailedStatus::Failed
        };
        let record = FailedRecord {
            failed_id: new_failed_id(received, shards),
            client_id: who,
            reason: FailureReason {
                code: "invalid_amount".to_owned(),
                message: "amount is not a number".to_owned(),
                field: Some("payload.amount".to_owned()),
            },
            raw: format!(r#"{{"n":{i},"payload":{{"amount":"x"}}}}"#),
            raw_truncated: false,
            received_at: received,
            attempts: 1,
            status,
        };
        store.put_failed(&record).await.unwrap();
        records.push(record);
    }
    records.sort_by(|a, b| (b.received_at, &b.failed_id.0).cmp(&(a.received_at, &a.failed_id.0)));
    let all = walk_failed(store, None, &mut rng).await;
    assert_eq!(all, records);
    let acme = client("acme");
    let expected: Vec<FailedRecord> = records
        .iter()
        .filter(|r| r.client_id.as_ref() == Some(&acme))
        .cloned()
        .collect();
    assert_eq!(walk_failed(store, Some(&acme), &mut rng).await, expected);
    assert!(walk_failed(store, Some(&client("nobody")), &mut rng)
        .await
        .is_empty());
}
