//! Grouped batch commits: first one keys-only read of the batch (`preread`: events found are
//! duplicates and cost no write), then the rest grouped by (client, hour), one TransactWriteItems
//! per group of up to 100 items — each event's conditional put, plus one `ADD` of the group's
//! summed count and total per aggregate item it touches (`ALL#` and one `M#` per metric).
//! Counting and dedupe stay one atomic write per group, so every guarantee of a single commit
//! holds; a batch of 100 new events of one client and hour costs 2 calls instead of 100.
//!
//! A cancelled transaction names, per action, why: puts that found their key taken are the
//! duplicates. They are answered `Duplicate` and the rest is committed again (new sums, new
//! idempotency token); conflicts and throttling are retried inside the budget like a single
//! commit's.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ReturnConsumedCapacity, TransactWriteItem};
use event_core::{AmountSum, Metric};
use futures::{stream, Stream, StreamExt};

use super::commit::hour_add;
use super::retry::{classify, with_retry, AttemptError, TRANSIENT_REASONS};
use super::DynamoStore;
use crate::{keys, CommitOutcome, ProcessedRecord, StoreError};

/// DynamoDB's limit of actions in one transaction.
pub(crate) const MAX_TRANSACTION_ITEMS: usize = 100;

/// The indexes of `records` to commit together: same client and hour, and few enough that
/// their puts plus one `ADD` per aggregate item fit in one transaction. Groups keep the order
/// in which their events first appear.
#[cfg(test)]
pub(crate) fn plan_groups(records: &[ProcessedRecord]) -> Vec<Vec<usize>> {
    plan_groups_among(records, 0..records.len())
}

/// `plan_groups` of only the records at `indexes`.
pub(crate) fn plan_groups_among(
    records: &[ProcessedRecord],
    indexes: impl IntoIterator<Item = usize>,
) -> Vec<Vec<usize>> {
    let mut by_key: BTreeMap<(&str, i64), Vec<usize>> = BTreeMap::new();
    let mut order = Vec::new();
    for index in indexes {
        let record = &records[index];
        let key = (
            record.event.client_id.as_str(),
            record.event.timestamp.floor_hour().unix_nanos(),
        );
        let group = by_key.entry(key).or_default();
        if group.is_empty() {
            order.push(key);
        }
        group.push(index);
    }
    let mut planned = Vec::new();
    for key in order {
        let mut chunk: Vec<usize> = Vec::new();
        let mut metrics: BTreeSet<&Metric> = BTreeSet::new();
        for index in by_key.remove(&key).unwrap_or_default() {
            let metric = &records[index].event.metric;
            let new_metric = usize::from(!metrics.contains(metric));
            // puts + the ALL# item + one M# item per metric
            if chunk.len() + 1 + 1 + metrics.len() + new_metric > MAX_TRANSACTION_ITEMS {
                planned.push(std::mem::take(&mut chunk));
                metrics.clear();
            }
            metrics.insert(metric);
            chunk.push(index);
        }
        if !chunk.is_empty() {
            planned.push(chunk);
        }
    }
    planned
}

/// How one group transaction ended, short of a transient fault.
enum GroupAttempt {
    Committed,
    /// Cancelled: these positions (in the group) found their key taken.
    Duplicates(Vec<usize>),
}

impl DynamoStore {
    /// `Store::commit_events`: the pre-read, its duplicates answered at once, then the other
    /// events' groups, `concurrency` requests at a time.
    pub(super) fn commit_batch<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        let concurrency = concurrency.max(1);
        stream::once(async move {
            let found = self.already_processed(records, concurrency).await;
            let (duplicates, new): (Vec<usize>, Vec<usize>) =
                (0..records.len()).partition(|&index| found[index]);
            for _ in &duplicates {
                self.count_duplicate();
            }
            let answered = duplicates
                .into_iter()
                .map(|index| (index, Ok(CommitOutcome::Duplicate)));
            stream::iter(answered).chain(
                stream::iter(plan_groups_among(records, new))
                    .map(move |group| self.commit_group(records, group))
                    .buffer_unordered(concurrency)
                    .flat_map(stream::iter),
            )
        })
        .flatten()
    }

    /// The batch commit without its pre-read: every event goes straight to its group's
    /// transaction. Not part of the `Store`: the cost benchmark (examples/dynamo_costs.rs)
    /// compares the two on the same endpoint.
    #[doc(hidden)]
    pub fn commit_events_without_preread<'a>(
        &'a self,
        records: &'a [ProcessedRecord],
        concurrency: usize,
    ) -> impl Stream<Item = (usize, Result<CommitOutcome, StoreError>)> + Send + 'a {
        stream::iter(plan_groups_among(records, 0..records.len()))
            .map(move |group| self.commit_group(records, group))
            .buffer_unordered(concurrency.max(1))
            .flat_map(stream::iter)
    }

    /// Commits one planned group; one result per index, in the group's order.
    pub(super) async fn commit_group(
        &self,
        records: &[ProcessedRecord],
        group: Vec<usize>,
    ) -> Vec<(usize, Result<CommitOutcome, StoreError>)> {
        let mut results = Vec::with_capacity(group.len());
        let mut pending = group;
        // Each round either commits everything left or removes at least one duplicate.
        while !pending.is_empty() {
            let actions = match self.group_actions(records, &pending) {
                Ok(actions) => actions,
                Err(error) => {
                    results.extend(pending.iter().map(|&i| (i, Err(error.clone()))));
                    break;
                }
            };
            // One token per set of actions: a lost answer is then recognised as "done".
            let token = uuid::Uuid::new_v4().to_string();
            let puts = pending.len();
            let outcome = with_retry(self.limits(), "commit batch", || {
                let request = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(actions.clone()))
                    .client_request_token(&token)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                async move {
                    self.count_request();
                    match request.send().await {
                        Ok(out) => {
                            self.count_capacity("commit batch", true, out.consumed_capacity());
                            Ok(GroupAttempt::Committed)
                        }
                        Err(err) => self.group_failure(err, puts),
                    }
                }
            })
            .await;
            match outcome {
                Ok(GroupAttempt::Committed) => {
                    results.extend(pending.iter().map(|&i| (i, Ok(CommitOutcome::Processed))));
                    break;
                }
                Ok(GroupAttempt::Duplicates(positions)) => {
                    for &position in &positions {
                        self.count_duplicate();
                        results.push((pending[position], Ok(CommitOutcome::Duplicate)));
                    }
                    let mut position = 0;
                    pending.retain(|_| {
                        position += 1;
                        !positions.contains(&(position - 1))
                    });
                }
                Err(error) => {
                    results.extend(pending.iter().map(|&i| (i, Err(error.clone()))));
                    break;
                }
            }
        }
        results
    }

    /// The puts of `pending` (in order, so cancellation reason `i` is put `i`), then one `ADD`
    /// to the hour's `ALL#` item and one per metric, with the sums of `pending`.
    fn group_actions(
        &self,
        records: &[ProcessedRecord],
        pending: &[usize],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let first = &records[pending[0]];
        let hour = first.event.timestamp.hour_key();
        // Any aggregate shard may take the group's sums: the shards are added on read.
        let j = first.hash.shard(self.config.aggregate_shards);
        let pk = keys::aggregate_pk(self.tenant(), &first.event.client_id, j);
        let mut all = (0u64, AmountSum::default());
        let mut per_metric: BTreeMap<&Metric, (u64, AmountSum)> = BTreeMap::new();
        let mut actions = Vec::with_capacity(pending.len() + 2);
        for &index in pending {
            let record = &records[index];
            actions.push(self.put_if_new(record)?);
            let amount = AmountSum::from(record.event.amount);
            for sums in [
                &mut all,
                per_metric.entry(&record.event.metric).or_default(),
            ] {
                sums.0 += 1;
                sums.1 = sums.1.checked_add(amount).ok_or_else(|| {
                    StoreError::Internal("hourly total out of DynamoDB's number range".into())
                })?;
            }
        }
        let add = |sk: String, (count, total): (u64, AmountSum)| {
            hour_add(self.table(), &pk, sk, count, total)
        };
        actions.push(add(keys::all_sk(&hour), all)?);
        for (metric, sums) in per_metric {
            actions.push(add(keys::metric_sk(metric, &hour), sums)?);
        }
        Ok(actions)
    }

    /// Reads a cancelled group: taken keys among the first `puts` actions are duplicates; a
    /// conflict or throttling is transient; anything else is a bug.
    fn group_failure(
        &self,
        err: SdkError<TransactWriteItemsError, HttpResponse>,
        puts: usize,
    ) -> Result<GroupAttempt, AttemptError> {
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            let taken: Vec<usize> = codes
                .iter()
                .take(puts)
                .enumerate()
                .filter(|(_, code)| **code == "ConditionalCheckFailed")
                .map(|(position, _)| position)
                .collect();
            if !taken.is_empty() {
                return Ok(GroupAttempt::Duplicates(taken));
            }
            if codes.iter().any(|code| TRANSIENT_REASONS.contains(code)) {
                self.count_transient();
                return Err(AttemptError::Transient(format!(
                    "batch commit cancelled: {:?}",
                    reason_summary(&codes)
                )));
            }
            return Err(AttemptError::Fatal(StoreError::Internal(format!(
                "batch commit cancelled: {:?}",
                reason_summary(&codes)
            ))));
        }
        self.transient(classify("commit batch", err))
    }
}

/// Each distinct cancellation reason with its count (a group has up to 100).
fn reason_summary(codes: &[&str]) -> BTreeMap<String, usize> {
    let mut summary = BTreeMap::new();
    for code in codes {
        *summary.entry((*code).to_owned()).or_default() += 1;
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_core::{normalize_event, EventTimestamp};
    use serde_json::value::RawValue;

    fn record(client: &str, metric: &str, hour: u32, i: usize) -> ProcessedRecord {
        let json = format!(
            r#"{{"client_id":"{client}","event_id":"e{i}","payload":{{"metric":"{metric}","amount":1,"timestamp":"2026-01-01T{hour:02}:00:{:02}Z"}}}}"#,
            i % 60
        );
        let raw = RawValue::from_string(json).unwrap();
        let now = EventTimestamp::from_unix_nanos(1_800_000_000_000_000_000).unwrap();
        let parsed = normalize_event(&raw, now).unwrap();
        ProcessedRecord {
            event: parsed.event,
            hash: parsed.hash,
            received_at: now,
        }
    }

    #[test]
    fn one_client_and_hour_fills_transactions_to_the_limit() {
        let records: Vec<_> = (0..100).map(|i| record("a", "m", 1, i)).collect();
        let groups = plan_groups(&records);
        // 98 puts + ALL# + M#m = 100 actions, then the last 2
        assert_eq!(groups.iter().map(Vec::len).collect::<Vec<_>>(), [98, 2]);
    }

    #[test]
    fn groups_split_by_client_and_hour_and_keep_first_appearance_order() {
        let records = vec![
            record("b", "m", 1, 0),
            record("a", "m", 1, 1),
            record("b", "m", 2, 2),
            record("b", "m", 1, 3),
        ];
        assert_eq!(plan_groups(&records), vec![vec![0, 3], vec![1], vec![2]]);
    }

    #[test]
    fn every_distinct_metric_takes_an_action_of_its_own() {
        let records: Vec<_> = (0..120)
            .map(|i| record("a", &format!("m{}", i % 10), 1, i))
            .collect();
        let groups = plan_groups(&records);
        for group in &groups {
            let metrics: BTreeSet<_> = group.iter().map(|&i| &records[i].event.metric).collect();
            assert!(group.len() + 1 + metrics.len() <= MAX_TRANSACTION_ITEMS);
        }
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 120);
    }
}
