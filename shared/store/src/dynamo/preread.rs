//! The batch path's read before write: one BatchGetItem (eventually consistent, keys only) of
//! up to 100 processed-event keys tells which events of a batch are already counted, so they
//! are answered `Duplicate` without a write. A cancelled transaction bills every item it
//! carried (2 WRU each), a read 0.5 RRU per key: BENCHMARKS.md "Duplicates: read before
//! write?" has the price model and the measurements behind doing this for every batch.
//!
//! Only "found" is trusted: processed events never expire and an item is visible only once
//! its transaction committed, so a key that is read is counted for sure. "Not found" (new, a
//! stale read, or a read that failed) still goes through the conditional put, which catches
//! a concurrent writer: a new event is never reported as a duplicate.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnConsumedCapacity};
use futures::StreamExt;

use super::items::{s, Item};
use super::retry::{classify, with_retry, AttemptError};
use super::DynamoStore;
use crate::{keys, ProcessedRecord, StoreError};

/// DynamoDB's limit of keys in one BatchGetItem.
pub(crate) const MAX_BATCH_GET_KEYS: usize = 100;

/// The processed item's primary key (`pk`, `sk`) of `record`.
type Key = (String, String);

impl DynamoStore {
    /// Which of `records` are already stored (by index). Reads up to `concurrency` chunks of
    /// 100 keys at a time. A chunk whose read fails (budget spent, or a bug) only logs: its
    /// events are then treated as not found and the conditional put decides.
    pub(super) async fn already_processed(
        &self,
        records: &[ProcessedRecord],
        concurrency: usize,
    ) -> Vec<bool> {
        let keys: Vec<Key> = records.iter().map(|r| self.processed_key(r)).collect();
        // owned chunks: a borrowed one makes the batch's stream not provably `Send`
        let chunks: Vec<Vec<Key>> = keys
            .chunks(MAX_BATCH_GET_KEYS)
            .map(<[Key]>::to_vec)
            .collect();
        let found: HashSet<Key> = futures::stream::iter(chunks)
            .map(|chunk| self.read_existing(chunk))
            .buffer_unordered(concurrency.max(1))
            .flat_map(|result| {
                futures::stream::iter(result.unwrap_or_else(|error| {
                    tracing::warn!(%error, "batch pre-read failed; the conditional puts decide");
                    Vec::new()
                }))
            })
            .collect()
            .await;
        keys.iter().map(|key| found.contains(key)).collect()
    }

    fn processed_key(&self, record: &ProcessedRecord) -> Key {
        let event = &record.event;
        let k = record.hash.shard(self.config.event_shards);
        (
            keys::event_pk(self.tenant(), &event.client_id, k),
            keys::event_sk(event.timestamp, &record.hash),
        )
    }

    /// The keys of `chunk` (at most 100) that exist. `UnprocessedKeys` (throttling, or the
    /// 16 MB answer limit) are asked again after a backoff, inside the store's retry budget.
    async fn read_existing(&self, chunk: Vec<Key>) -> Result<Vec<Key>, StoreError> {
        let found = Mutex::new(Vec::new());
        let pending = Mutex::new(
            chunk
                .into_iter()
                .map(|(pk, sk)| Item::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))]))
                .collect::<Vec<_>>(),
        );
        with_retry(self.limits(), "batch pre-read", || {
            let ask = pending.lock().expect("not poisoned").clone();
            let (found, pending) = (&found, &pending);
            async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(ask))
                    // keys only: the answer stays small (the read costs the same)
                    .projection_expression("pk, sk")
                    .build()
                    .map_err(|err| AttemptError::Fatal(super::commit::build_error(err)))?;
                self.count_request();
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table(), request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                let out = match out {
                    Ok(out) => out,
                    Err(err) => return self.transient(classify("batch pre-read", err)),
                };
                self.count_capacity("batch pre-read", false, out.consumed_capacity());
                found.lock().expect("not poisoned").extend(
                    out.responses()
                        .into_iter()
                        .flat_map(HashMap::values)
                        .flatten()
                        .filter_map(key_of),
                );
                let unprocessed = out
                    .unprocessed_keys()
                    .and_then(|tables| tables.get(self.table()))
                    .map(|left| left.keys().to_vec())
                    .unwrap_or_default();
                let left = unprocessed.len();
                *pending.lock().expect("not poisoned") = unprocessed;
                if left == 0 {
                    Ok(())
                } else {
                    self.transient(AttemptError::Transient(format!(
                        "batch pre-read: {left} unprocessed keys"
                    )))
                }
            }
        })
        .await?;
        Ok(found.into_inner().expect("not poisoned"))
    }
}

fn key_of(item: &Item) -> Option<Key> {
    let pk = item.get("pk")?.as_s().ok()?;
    let sk = item.get("sk")?.as_s().ok()?;
    Some((pk.clone(), sk.clone()))
}
