//! The bulk replay's selection (`Store::list_failed_for_replay`): failed and rejected records
//! by client, receipt range and reason code, never retried ones, each exactly once across
//! pages, with per-record cursors that resume exactly at their record.

use super::*;
use crate::{ReplayPage, ReplayQuery, TenantId};

/// A selection with every filter open but those given.
pub fn selection(
    client_id: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
    codes: &[&str],
) -> ReplayQuery {
    ReplayQuery {
        client_id: client_id.map(client),
        from: from.map(ts),
        to: to.map(ts),
        codes: codes.iter().map(|code| (*code).to_owned()).collect(),
        limit: 100,
        cursor: None,
    }
}

async fn page<S: Store>(store: &S, query: &ReplayQuery) -> ReplayPage {
    store
        .list_failed_for_replay(query)
        .await
        .expect("list_failed_for_replay")
}

/// Every page of `query` with page sizes from 1 to 4; every record's `cursor_at` is checked
/// to resume at that very record.
pub async fn walk_replay<S: Store>(
    store: &S,
    query: &ReplayQuery,
    rng: &mut fastrand::Rng,
) -> Vec<FailedRecord> {
    let mut out = Vec::new();
    let mut query = query.clone();
    for _ in 0..10_000 {
        query.limit = rng.u32(1..=4);
        let page = page(store, &query).await;
        if let Some(item) = page.items.get(rng.usize(..page.items.len().max(1))) {
            let resumed = first_from(store, &query, item.cursor_at.clone()).await;
            assert_eq!(
                resumed.as_ref(),
                Some(&item.record),
                "cursor_at resumes at its record"
            );
        }
        out.extend(page.items.into_iter().map(|item| item.record));
        match page.next_cursor {
            Some(next) => query.cursor = Some(next),
            None => return out,
        }
    }
    panic!("replay selection did not end");
}

/// The first record a walk from `cursor` meets (pages may be empty with a filter).
async fn first_from<S: Store>(
    store: &S,
    query: &ReplayQuery,
    cursor: String,
) -> Option<FailedRecord> {
    let mut query = ReplayQuery {
        limit: 1,
        cursor: Some(cursor),
        ..query.clone()
    };
    for _ in 0..1_000 {
        let page = page(store, &query).await;
        if let Some(item) = page.items.into_iter().next() {
            return Some(item.record);
        }
        query.cursor = Some(page.next_cursor?);
    }
    panic!("walk from a cursor did not end");
}

fn failed_record(
    i: i64,
    received: EventTimestamp,
    client_id: Option<ClientId>,
    code: &str,
    status: FailedStatus,
    shards: u32,
) -> FailedRecord {
    FailedRecord {
        failed_id: new_failed_id(received, shards),
        client_id,
        reason: FailureReason {
            code: code.to_owned(),
            message: format!("reason {code}"),
            field: None,
        },
        raw: format!(
            r#"{{"client_id":"acme","payload":{{"amount":"{i}","timestamp":"2024-03-10T01:30:00Z"}}}}"#
        ),
        raw_truncated: false,
        received_at: received,
        attempts: 1,
        status,
    }
}

/// GIVEN failed, rejected and retried records of two clients (and none), three codes and
/// spread receipt times WHEN replay selections are walked with random page sizes THEN each
/// yields exactly the matching failed and rejected records, newest receipt first, once each;
/// retried records never; a record retried during the walk drops out; cursors fit only their
/// own selection; another tenant sees none of them.
pub async fn replay_selection_walks_every_matching_record_once<S: Store>(store: &S, shards: u32) {
    let mut rng = fastrand::Rng::with_seed(21);
    let start = now().unix_nanos();
    let codes = ["storage_failed", "simulated_failure", "invalid_amount"];
    let mut records = Vec::new();
    for i in 0..36i64 {
        // Two records share each receipt time: ties are broken by the failed id.
        let received = ts(start + (i / 2) * 1_000);
        let who = match i % 3 {
            0 => Some(client("acme")),
            1 => Some(client("beta")),
            _ => None,
        };
        let status = match i % 4 {
            0 => FailedStatus::Rejected,
            1 => FailedStatus::Retried,
            _ => FailedStatus::Failed,
        };
        let record = failed_record(
            i,
            received,
            who,
            codes[(i % 5) as usize % 3],
            status,
            shards,
        );
        store.put_failed(&record).await.unwrap();
        records.push(record);
    }
    records.sort_by(|a, b| (b.received_at, &b.failed_id.0).cmp(&(a.received_at, &a.failed_id.0)));

    let mid = start + 5 * 1_000;
    let late = start + 13 * 1_000;
    let queries = [
        selection(None, None, None, &[]),
        selection(Some("acme"), None, None, &[]),
        selection(None, Some(mid), Some(late), &[]),
        selection(None, None, None, &["storage_failed", "invalid_amount"]),
        selection(Some("beta"), Some(mid), None, &["simulated_failure"]),
        selection(Some("nobody"), None, None, &[]),
        selection(None, None, None, &["no_such_code"]),
    ];
    for query in &queries {
        let expected: Vec<FailedRecord> = records
            .iter()
            .filter(|r| query.client_id.is_none() || r.client_id == query.client_id)
            .filter(|r| query.from.is_none_or(|from| r.received_at >= from))
            .filter(|r| query.to.is_none_or(|to| r.received_at < to))
            .filter(|r| query.selects(r))
            .cloned()
            .collect();
        let walked = walk_replay(store, query, &mut rng).await;
        assert_eq!(walked, expected, "{query:?}");
    }
    assert!(
        walk_replay(store, &queries[0], &mut rng)
            .await
            .iter()
            .all(|r| r.status != FailedStatus::Retried),
        "retried records are never selected"
    );

    // A record retried between two pages drops out; every other one is still met once.
    let all = &queries[0];
    let first = page(
        store,
        &ReplayQuery {
            limit: 3,
            ..all.clone()
        },
    )
    .await;
    let mut met: Vec<FailedRecord> = first.items.into_iter().map(|item| item.record).collect();
    let pending: Vec<&FailedRecord> = records
        .iter()
        .filter(|r| all.selects(r) && !met.contains(r))
        .collect();
    let settled = pending[pending.len() / 2].clone();
    let processed = normalize(&settled.raw);
    store
        .commit_retry(&processed, &settled.failed_id)
        .await
        .unwrap();
    let rest = ReplayQuery {
        cursor: first.next_cursor,
        ..all.clone()
    };
    met.extend(walk_replay(store, &rest, &mut rng).await);
    let expected: Vec<FailedRecord> = records
        .iter()
        .filter(|r| all.selects(r) && r.failed_id != settled.failed_id)
        .cloned()
        .collect();
    assert_eq!(met, expected);

    // A cursor belongs to its selection (the order of codes aside).
    let coded = selection(None, None, None, &["storage_failed", "invalid_amount"]);
    let token = page(
        store,
        &ReplayQuery {
            limit: 1,
            ..coded.clone()
        },
    )
    .await
    .next_cursor
    .expect("more than one record");
    let reordered = ReplayQuery {
        cursor: Some(token.clone()),
        ..selection(None, None, None, &["invalid_amount", "storage_failed"])
    };
    assert!(store.list_failed_for_replay(&reordered).await.is_ok());
    for other in [
        selection(None, None, None, &["storage_failed"]),
        selection(
            Some("acme"),
            None,
            None,
            &["storage_failed", "invalid_amount"],
        ),
        selection(None, Some(mid), None, &["storage_failed", "invalid_amount"]),
    ] {
        let query = ReplayQuery {
            cursor: Some(token.clone()),
            ..other
        };
        assert!(
            matches!(
                store.list_failed_for_replay(&query).await,
                Err(StoreError::InvalidCursor)
            ),
            "{query:?}"
        );
    }
    let garbage = ReplayQuery {
        cursor: Some("not-a-cursor".to_owned()),
        ..all.clone()
    };
    assert!(matches!(
        store.list_failed_for_replay(&garbage).await,
        Err(StoreError::InvalidCursor)
    ));

    // Another tenant's selection is empty, and its cursor does not open this one's.
    let other = store.for_tenant(&TenantId::parse("replay-other").unwrap());
    assert!(walk_replay(&other, all, &mut rng).await.is_empty());
    let tokened = ReplayQuery {
        cursor: Some(token),
        ..coded
    };
    assert!(matches!(
        other.list_failed_for_replay(&tokened).await,
        Err(StoreError::InvalidCursor)
    ));
}
