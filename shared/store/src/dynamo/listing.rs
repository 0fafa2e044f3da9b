//! Listings, newest first, merged over the shards a listing spans, with cursors that hold
//! each shard's position so every item is returned exactly once across pages.
//!
//! A page Queries every unfinished shard (descending, from its position) concurrently,
//! merges the answers by sort key and returns the newest `limit`. Items a shard returned but
//! the page did not take are read again next time: simpler than caching them in the cursor,
//! and the cost is bounded by `limit` per shard. Never a Scan.
//!
//! A bulk replay's selection is the failed records' listing within a receipt range, with a
//! `FilterExpression` on status and reason code: DynamoDB applies `Limit` before the filter,
//! so such a page may come back short (even empty) while a cursor remains.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures::future::try_join_all;

use super::items::{get_s, s, Item};
use super::retry::{classify, with_retry};
use super::DynamoStore;
use crate::cursor::{Cursor, Fingerprint, Position};
use crate::keys::{self, SkRange};
use crate::{
    FailedQuery, FailedRecord, FailedStatus, Page, ProcessedQuery, ProcessedRecord, ReplayItem,
    ReplayPage, ReplayQuery, StoreError,
};
use event_core::{ClientId, EventTimestamp};

/// One sorted partition a listing reads: a base-table partition or an index partition.
struct Partition {
    index: Option<&'static str>,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk: String,
}

/// A `FilterExpression` with its own attribute names and values (`#f…`, `:f…`, apart from the
/// key condition's).
struct Filter {
    expression: String,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(String, AttributeValue)>,
}

/// The merge of one page: `(sort key, shard, item)` newest first, the cursor the page started
/// from, and the one that continues after it.
struct Merged {
    taken: Vec<(String, usize, Item)>,
    start: Cursor,
    next_cursor: Option<String>,
}

/// What one shard's Query gave back.
struct ShardRead {
    /// `(sort key, item)`, newest first, the cursor's own item left out.
    items: Vec<(String, Item)>,
    /// Set when more items may follow in this shard (DynamoDB stopped at `Limit` or 1 MB):
    /// the sort key it stopped at.
    stopped_at: Option<String>,
}

fn bound_text(bound: Option<EventTimestamp>) -> String {
    bound.map_or_else(|| "-".to_owned(), |t| t.unix_nanos().to_string())
}

impl DynamoStore {
    pub(super) async fn processed_page(
        &self,
        query: &ProcessedQuery,
    ) -> Result<Page<ProcessedRecord>, StoreError> {
        let from = query.from.unwrap_or(EventTimestamp::MIN);
        let to = query.to.unwrap_or(EventTimestamp::MAX);
        let client = query.client_id.as_ref();
        let fingerprint = Fingerprint::of(&[
            "processed",
            self.tenant(),
            client.map_or("*", ClientId::as_str),
            &bound_text(query.from),
            &bound_text(query.to),
        ]);
        let Some(range) = SkRange::of_times(from, to) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let partitions = (0..self.config.event_shards)
            .map(|k| match client {
                // One client: its own partitions, strongly consistent.
                Some(client) => Partition {
                    index: None,
                    pk_attr: "pk",
                    sk_attr: "sk",
                    pk: keys::event_pk(self.tenant(), client, k),
                },
                // Every client: the sharded feed index (eventually consistent, by design).
                None => Partition {
                    index: Some("feed"),
                    pk_attr: "feed_pk",
                    sk_attr: "feed_sk",
                    pk: keys::feed_pk(self.tenant(), k),
                },
            })
            .collect();
        let (items, next_cursor) = self
            .merged_page(
                partitions,
                &range,
                fingerprint,
                query.cursor.as_deref(),
                query.limit,
            )
            .await?;
        let items = items
            .iter()
            .map(ProcessedRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    pub(super) async fn failed_page(
        &self,
        query: &FailedQuery,
    ) -> Result<Page<FailedRecord>, StoreError> {
        let client = query.client_id.as_ref();
        let fingerprint = Fingerprint::of(&[
            "failed",
            self.tenant(),
            client.map_or("*", ClientId::as_str),
        ]);
        let partitions = self.failed_partitions(client);
        let (items, next_cursor) = self
            .merged_page(
                partitions,
                &SkRange::default(),
                fingerprint,
                query.cursor.as_deref(),
                query.limit,
            )
            .await?;
        let items = items
            .iter()
            .map(FailedRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }

    /// The failed records' partitions: one client's by-client index partition, or every
    /// `F` shard of the tenant.
    fn failed_partitions(&self, client: Option<&ClientId>) -> Vec<Partition> {
        match client {
            Some(client) => vec![Partition {
                index: Some("failed_by_client"),
                pk_attr: "fc_pk",
                sk_attr: "fc_sk",
                pk: keys::failed_by_client_pk(self.tenant(), client),
            }],
            None => (0..self.config.event_shards)
                .map(|k| Partition {
                    index: None,
                    pk_attr: "pk",
                    sk_attr: "sk",
                    pk: keys::failed_pk_for_shard(self.tenant(), k),
                })
                .collect(),
        }
    }

    pub(super) async fn replay_page(&self, query: &ReplayQuery) -> Result<ReplayPage, StoreError> {
        let from = query.from.unwrap_or(EventTimestamp::MIN);
        let to = query.to.unwrap_or(EventTimestamp::MAX);
        let Some(range) = SkRange::of_times(from, to) else {
            return Ok(ReplayPage {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let client = query.client_id.as_ref();
        let fingerprint = Fingerprint::of(&[
            "replay",
            self.tenant(),
            client.map_or("*", ClientId::as_str),
            &bound_text(query.from),
            &bound_text(query.to),
            &query.codes_key(),
        ]);
        let merged = self
            .merged(
                self.failed_partitions(client),
                &range,
                fingerprint,
                query.cursor.as_deref(),
                query.limit,
                Some(&replay_filter(query)),
            )
            .await?;
        // The cursor at each record: the page's start, moved past every record before it.
        let mut at = merged.start;
        let mut items = Vec::with_capacity(merged.taken.len());
        for (sk, shard, item) in &merged.taken {
            items.push(ReplayItem {
                record: FailedRecord::try_from(item)?,
                cursor_at: at.encode(fingerprint),
            });
            at.positions[*shard] = Position::After(sk.clone());
        }
        Ok(ReplayPage {
            items,
            next_cursor: merged.next_cursor,
        })
    }

    /// The next page of the newest-first merge of `partitions` within `range`.
    async fn merged_page(
        &self,
        partitions: Vec<Partition>,
        range: &SkRange,
        fingerprint: Fingerprint,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Item>, Option<String>), StoreError> {
        let merged = self
            .merged(partitions, range, fingerprint, cursor, limit, None)
            .await?;
        let items = merged.taken.into_iter().map(|(_, _, item)| item).collect();
        Ok((items, merged.next_cursor))
    }

    /// The merge behind a page: reads every unfinished partition (keeping only what `filter`
    /// accepts), merges newest first, takes up to `limit`.
    async fn merged(
        &self,
        partitions: Vec<Partition>,
        range: &SkRange,
        fingerprint: Fingerprint,
        cursor: Option<&str>,
        limit: u32,
        filter: Option<&Filter>,
    ) -> Result<Merged, StoreError> {
        let start = match cursor {
            Some(token) => Cursor::decode(token, fingerprint, partitions.len(), range)?,
            None => Cursor::start(partitions.len()),
        };
        let mut cursor = start.clone();
        let limit = limit.clamp(1, 1000) as usize;
        let reads = try_join_all(partitions.iter().zip(&cursor.positions).map(
            |(partition, position)| self.read_shard(partition, range, position, limit, filter),
        ))
        .await?;

        // Nothing below a truncated shard's last key may be returned yet: that shard may
        // hold unread items above it.
        let frontier = reads
            .iter()
            .flatten()
            .filter_map(|read| read.stopped_at.clone())
            .max();
        let mut merged: Vec<(String, usize, Item)> = reads
            .iter()
            .enumerate()
            .filter_map(|(shard, read)| read.as_ref().map(|read| (shard, read)))
            .flat_map(|(shard, read)| {
                read.items
                    .iter()
                    .map(move |(sk, item)| (sk.clone(), shard, item.clone()))
            })
            .collect();
        merged.sort_by(|a, b| b.0.cmp(&a.0));
        let taken: Vec<(String, usize, Item)> = merged
            .into_iter()
            .take_while(|(sk, _, _)| frontier.as_ref().is_none_or(|f| sk >= f))
            .take(limit)
            .collect();

        for (shard, read) in reads.iter().enumerate() {
            let Some(read) = read else { continue };
            let from_shard: Vec<&String> = taken
                .iter()
                .filter(|(_, s, _)| *s == shard)
                .map(|(sk, _, _)| sk)
                .collect();
            let all_taken = from_shard.len() == read.items.len();
            match (&read.stopped_at, from_shard.last()) {
                (None, _) if all_taken => cursor.positions[shard] = Position::Done,
                // Every key down to where the Query stopped was read, and what the filter
                // kept was taken: continue below it (with a filter, that may be below the
                // last item, or the shard may have given none and still moved on).
                (Some(stopped_at), _) if all_taken => {
                    cursor.positions[shard] = Position::After(stopped_at.clone());
                }
                (_, Some(last)) => cursor.positions[shard] = Position::After((*last).clone()),
                _ => {}
            }
        }
        let next_cursor = (!cursor.is_done()).then(|| cursor.encode(fingerprint));
        Ok(Merged {
            taken,
            start,
            next_cursor,
        })
    }

    /// Up to `limit` items of one partition below its position; `None` when it is done.
    async fn read_shard(
        &self,
        partition: &Partition,
        range: &SkRange,
        position: &Position,
        limit: usize,
        filter: Option<&Filter>,
    ) -> Result<Option<ShardRead>, StoreError> {
        // Key conditions cannot say "strictly below", so read from the position inclusive
        // and drop that one item (already returned).
        let (hi, skip) = match position {
            Position::Done => return Ok(None),
            Position::Start => (range.hi.clone(), None),
            Position::After(sk) => (Some(sk.clone()), Some(sk.clone())),
        };
        let condition = match (&range.lo, &hi) {
            (Some(_), Some(_)) => "#pk = :pk AND #sk BETWEEN :lo AND :hi",
            (Some(_), None) => "#pk = :pk AND #sk >= :lo",
            (None, Some(_)) => "#pk = :pk AND #sk <= :hi",
            (None, None) => "#pk = :pk",
        };
        let request_limit = limit + usize::from(skip.is_some());
        let mut builder = self
            .client
            .query()
            .table_name(self.table())
            .set_index_name(partition.index.map(str::to_owned))
            .key_condition_expression(condition)
            .expression_attribute_names("#pk", partition.pk_attr)
            .expression_attribute_values(":pk", s(partition.pk.clone()))
            .scan_index_forward(false)
            .limit(request_limit as i32)
            // Indexes only offer eventual consistency; base-table partitions are read strongly
            // so a client sees its own just-committed events.
            .consistent_read(partition.index.is_none())
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if condition.contains("#sk") {
            builder = builder.expression_attribute_names("#sk", partition.sk_attr);
        }
        if let Some(lo) = &range.lo {
            builder = builder.expression_attribute_values(":lo", s(lo.clone()));
        }
        if let Some(hi) = &hi {
            builder = builder.expression_attribute_values(":hi", s(hi.clone()));
        }
        if let Some(filter) = filter {
            builder = builder.filter_expression(&filter.expression);
            for (name, attr) in &filter.names {
                builder = builder.expression_attribute_names(*name, *attr);
            }
            for (name, value) in &filter.values {
                builder = builder.expression_attribute_values(name, value.clone());
            }
        }
        let out = with_retry(self.limits(), "list", || {
            let request = builder.clone();
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity("list", false, out.consumed_capacity());
                        Ok(out)
                    }
                    Err(err) => self.transient(classify("list", err)),
                }
            }
        })
        .await?;
        let stopped_at = match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(get_s(key, partition.sk_attr)?.to_owned()),
            _ => None,
        };
        let mut items = Vec::with_capacity(out.items().len());
        for item in out.items.unwrap_or_default() {
            let sk = get_s(&item, partition.sk_attr)?.to_owned();
            if skip.as_deref() != Some(sk.as_str()) {
                items.push((sk, item));
            }
        }
        Ok(Some(ShardRead { items, stopped_at }))
    }
}

/// `ReplayQuery::selects` as DynamoDB evaluates it: not `retried`, and a code among `codes`.
fn replay_filter(query: &ReplayQuery) -> Filter {
    let mut filter = Filter {
        expression: "#fstatus <> :fretried".to_owned(),
        names: vec![("#fstatus", "status")],
        values: vec![(":fretried".to_owned(), s(FailedStatus::Retried.as_str()))],
    };
    if !query.codes.is_empty() {
        let placeholders: Vec<String> = (0..query.codes.len()).map(|i| format!(":fc{i}")).collect();
        filter.expression += &format!(" AND #fcode IN ({})", placeholders.join(", "));
        filter.names.push(("#fcode", "reason_code"));
        filter.values.extend(
            placeholders
                .into_iter()
                .zip(&query.codes)
                .map(|(name, code)| (name, s(code.clone()))),
        );
    }
    filter
}
