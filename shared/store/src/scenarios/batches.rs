//! The batch scenarios (`Store::commit_events`): many events in one call, over many clients
//! and hours, racing each other, or already counted; each counted once, and a batch of
//! duplicates writes nothing.

use super::*;

/// `records` committed with `commit_events`; the outcome of each, in the records' order.
pub async fn commit_batch<S: Store>(store: &S, records: &[ProcessedRecord]) -> Vec<CommitOutcome> {
    let mut outcomes = vec![None; records.len()];
    let mut results = std::pin::pin!(store.commit_events(records, 8));
    while let Some((index, result)) = futures::StreamExt::next(&mut results).await {
        assert!(outcomes[index].is_none(), "one result per record");
        outcomes[index] = Some(result.expect("batch commit"));
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.expect("a result for every record"))
        .collect()
}

/// Every client's aggregate over all time equals the sum of `records` of that client, and
/// its listing holds exactly them.
pub async fn counts_equal<S: Store>(store: &S, records: &[ProcessedRecord]) {
    let clients: HashSet<&ClientId> = records.iter().map(|r| &r.event.client_id).collect();
    for client in clients {
        let mine: Vec<&ProcessedRecord> = records
            .iter()
            .filter(|r| r.event.client_id == *client)
            .collect();
        assert_eq!(
            aggregate(store, client, None, None, None).await,
            sum(&mine),
            "{client:?}"
        );
        let listed = walk_processed(
            store,
            Some(client),
            None,
            None,
            &mut fastrand::Rng::new(),
            500,
        )
        .await;
        assert_eq!(listed.len(), mine.len(), "{client:?} listed once each");
    }
}

/// GIVEN 500 events over many clients, hours and metrics, some already committed one by one
/// WHEN committed as one batch THEN exactly the earlier ones are duplicates, and every client's
/// aggregate and listing equal its events, counted once.
pub async fn a_batch_over_many_clients_and_hours_counts_each_event_once<S: Store>(
    store: &S,
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let records: Vec<ProcessedRecord> = (0..500)
        .map(|i| {
            let client = ["acme", "beta", "gamma", "delta", "eps"][rng.usize(..5)];
            let metric = ["purchase", "refund", "view"][rng.usize(..3)];
            let amount = format!("{}.{:02}", rng.i64(-20..200), rng.u8(..100));
            event(client, metric, &amount, BASE + rng.i64(0..9 * HOUR), i)
        })
        .collect();
    let earlier: HashSet<usize> = (0..records.len()).filter(|i| i % 7 == 0).collect();
    for &i in &earlier {
        assert_eq!(
            store.commit_event(&records[i]).await.unwrap(),
            CommitOutcome::Processed
        );
    }

    let outcomes = commit_batch(store, &records).await;

    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = if earlier.contains(&i) {
            CommitOutcome::Duplicate
        } else {
            CommitOutcome::Processed
        };
        assert_eq!(*outcome, expected, "record {i}");
    }
    counts_equal(store, &records).await;
}

/// GIVEN two batches that share half their events WHEN committed at the same time THEN each
/// shared event is processed by exactly one of them and a duplicate in the other, and the
/// counts are exact.
pub async fn overlapping_concurrent_batches_count_each_event_once<S: Store>(store: &S) {
    let records: Vec<ProcessedRecord> = (0..150)
        .map(|i| event("acme", "purchase", "1.25", BASE + (i as i64 % 3) * HOUR, i))
        .collect();
    let first = &records[..100];
    let second = &records[50..];

    let (a, b) = futures::join!(commit_batch(store, first), commit_batch(store, second));

    for i in 0..150 {
        let in_a = (i < 100).then(|| a[i]);
        let in_b = (i >= 50).then(|| b[i - 50]);
        let processed = [in_a, in_b]
            .iter()
            .filter(|o| **o == Some(CommitOutcome::Processed))
            .count();
        assert_eq!(processed, 1, "record {i}: {in_a:?} {in_b:?}");
    }
    counts_equal(store, &records).await;
}

/// GIVEN a batch of events all counted before WHEN committed again THEN every one is a
/// duplicate and nothing changes.
pub async fn a_batch_of_only_duplicates_changes_nothing<S: Store>(store: &S) {
    let records: Vec<ProcessedRecord> = (0..120)
        .map(|i| {
            event(
                "acme",
                if i % 2 == 0 { "a" } else { "b" },
                "3",
                BASE + HOUR,
                i,
            )
        })
        .collect();
    assert!(commit_batch(store, &records)
        .await
        .iter()
        .all(|o| *o == CommitOutcome::Processed));

    let again = commit_batch(store, &records).await;

    assert!(again.iter().all(|o| *o == CommitOutcome::Duplicate));
    counts_equal(store, &records).await;
}

/// GIVEN a batch of events all counted before WHEN committed again THEN every one is a
/// duplicate, nothing changes, and the store sent no write at all (`write_requests`: the
/// write requests the store has sent so far; DynamoDB bills a cancelled transaction's items).
pub async fn a_batch_of_only_duplicates_costs_no_write<S: Store>(
    store: &S,
    write_requests: impl Fn() -> u64,
) {
    let records: Vec<ProcessedRecord> = (0..150)
        .map(|i| {
            event(
                "dup",
                "purchase",
                "2.5",
                BASE + 2 * HOUR + (i as i64 % 2) * HOUR,
                i,
            )
        })
        .collect();
    assert!(commit_batch(store, &records)
        .await
        .iter()
        .all(|o| *o == CommitOutcome::Processed));
    let before = write_requests();

    let again = commit_batch(store, &records).await;

    assert!(again.iter().all(|o| *o == CommitOutcome::Duplicate));
    assert_eq!(write_requests() - before, 0, "a duplicate costs no write");
    counts_equal(store, &records).await;
}

/// GIVEN 100 events of one client and hour, 60 of them counted before (one by one and in an
/// earlier batch) WHEN the 100 are committed as one batch THEN exactly the 60 are duplicates,
/// the 40 new ones are processed, counts are exact, and the new ones took one write request
/// (no transaction cancelled by a duplicate first).
pub async fn a_mixed_batch_writes_only_its_new_events<S: Store>(
    store: &S,
    write_requests: impl Fn() -> u64,
) {
    let records: Vec<ProcessedRecord> = (0..100)
        .map(|i| {
            let metric = if i % 2 == 0 { "view" } else { "buy" };
            event("mixed", metric, "1.5", BASE + 3 * HOUR + i as i64 * SEC, i)
        })
        .collect();
    let earlier = |i: usize| i % 5 < 3;
    let (singles, batched): (Vec<usize>, Vec<usize>) =
        (0..100).filter(|&i| earlier(i)).partition(|i| i % 2 == 0);
    for &i in &singles {
        assert_eq!(
            store.commit_event(&records[i]).await.unwrap(),
            CommitOutcome::Processed
        );
    }
    let batch: Vec<ProcessedRecord> = batched.iter().map(|&i| records[i].clone()).collect();
    assert!(commit_batch(store, &batch)
        .await
        .iter()
        .all(|o| *o == CommitOutcome::Processed));
    let before = write_requests();

    let outcomes = commit_batch(store, &records).await;

    for (i, outcome) in outcomes.iter().enumerate() {
        let expected = if earlier(i) {
            CommitOutcome::Duplicate
        } else {
            CommitOutcome::Processed
        };
        assert_eq!(*outcome, expected, "record {i}");
    }
    assert!(
        write_requests() - before <= 1,
        "40 new events of one client and hour: one transaction"
    );
    counts_equal(store, &records).await;
}

/// GIVEN 120 events over two hours, a third of them counted before WHEN two batches of all of
/// them (in opposite orders) and a third batch of every other one race THEN each event is
/// processed exactly once overall (never a new event reported as a duplicate by all), and
/// the counts are exact.
pub async fn batches_racing_on_the_same_events_count_each_once<S: Store>(store: &S) {
    let records: Vec<ProcessedRecord> = (0..120)
        .map(|i| event("race", "purchase", "0.75", BASE + (i as i64 % 2) * HOUR, i))
        .collect();
    let earlier: HashSet<usize> = (0..120).filter(|i| i % 3 == 0).collect();
    for &i in &earlier {
        assert_eq!(
            store.commit_event(&records[i]).await.unwrap(),
            CommitOutcome::Processed
        );
    }
    let reversed: Vec<ProcessedRecord> = records.iter().rev().cloned().collect();
    let every_other: Vec<ProcessedRecord> = records.iter().step_by(2).cloned().collect();

    let (a, b, c) = futures::join!(
        commit_batch(store, &records),
        commit_batch(store, &reversed),
        commit_batch(store, &every_other)
    );

    for i in 0..120 {
        let outcomes = [Some(a[i]), Some(b[119 - i]), (i % 2 == 0).then(|| c[i / 2])];
        let processed = outcomes
            .iter()
            .filter(|o| **o == Some(CommitOutcome::Processed))
            .count();
        let expected = usize::from(!earlier.contains(&i));
        assert_eq!(processed, expected, "record {i}: {outcomes:?}");
    }
    counts_equal(store, &records).await;
}
