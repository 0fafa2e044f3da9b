//! Writes: the one-transaction commit of a processed event (dedupe and count together), the
//! retry commit that also marks its failed record, and the failed records themselves.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{Put, ReturnConsumedCapacity, TransactWriteItem, Update};

use event_core::AmountSum;

use super::items::{self, n, s, FailedItem, Item, ProcessedItem};
use super::retry::{classify, with_retry, AttemptError, TRANSIENT_REASONS};
use super::DynamoStore;
use crate::keys;
use crate::{CommitOutcome, FailedId, FailedRecord, ProcessedRecord, StoreError};

/// The actions of one commit transaction, and where the two whose cancellation reasons
/// decide the outcome sit among them (reasons come in the order of the actions).
struct CommitActions {
    actions: Vec<TransactWriteItem>,
    put_event: usize,
    mark_retried: Option<usize>,
}

impl CommitActions {
    fn push(&mut self, action: TransactWriteItem) -> usize {
        self.actions.push(action);
        self.actions.len() - 1
    }
}

/// How one commit attempt ended, short of a transient fault.
enum Committed {
    New,
    /// The event's put found its key taken: already counted.
    Duplicate,
}

pub(super) fn build_error(err: impl std::error::Error) -> StoreError {
    StoreError::Internal(format!("building a request: {err}"))
}

/// `ADD count, total` to one hourly aggregate item (`pk`, `sk`) of table `table`.
pub(super) fn hour_add(
    table: &str,
    pk: &str,
    sk: String,
    count: u64,
    total: AmountSum,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", s(sk))
        .update_expression("ADD #n :count, #total :amount")
        .expression_attribute_names("#n", "n")
        .expression_attribute_names("#total", "total")
        .expression_attribute_values(":count", n(count))
        .expression_attribute_values(":amount", n(total))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl DynamoStore {
    /// `commit_event` (`retry_of = None`) and `commit_retry`.
    pub(super) async fn commit(
        &self,
        record: &ProcessedRecord,
        retry_of: Option<&FailedId>,
    ) -> Result<CommitOutcome, StoreError> {
        let mut commit = self.commit_actions(record)?;
        if let Some(id) = retry_of {
            let mark = TransactWriteItem::builder()
                .update(self.mark_retried(id)?)
                .build();
            commit.mark_retried = Some(commit.push(mark));
        }
        // One token for every attempt of this commit: if an attempt landed but its answer was
        // lost (timeout), the next attempt is answered "done" instead of being re-applied,
        // so a new event is reported processed rather than a duplicate of itself.
        let token = uuid::Uuid::new_v4().to_string();
        let commit = &commit;
        let outcome = with_retry(self.limits(), "commit", || {
            let request = self
                .client
                .transact_write_items()
                .set_transact_items(Some(commit.actions.clone()))
                .client_request_token(&token)
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity("commit", true, out.consumed_capacity());
                        Ok(Committed::New)
                    }
                    Err(err) => self.commit_failure(err, commit),
                }
            }
        })
        .await?;
        match (outcome, retry_of) {
            (Committed::New, _) => Ok(CommitOutcome::Processed),
            (Committed::Duplicate, None) => {
                self.count_duplicate();
                Ok(CommitOutcome::Duplicate)
            }
            (Committed::Duplicate, Some(id)) => {
                // Already counted (by the original request or an earlier retry): the retry
                // still settles the failed record, as a write of its own.
                self.count_duplicate();
                self.update_failed(id, "mark retried", self.mark_retried(id)?)
                    .await?;
                Ok(CommitOutcome::Duplicate)
            }
        }
    }

    /// Put of the event (only if new) and `ADD` to its two hourly aggregate items.
    fn commit_actions(&self, record: &ProcessedRecord) -> Result<CommitActions, StoreError> {
        let table = self.table();
        let event = &record.event;
        let put = self.put_if_new(record)?;
        let hour = event.timestamp.hour_key();
        let j = record.hash.shard(self.config.aggregate_shards);
        let pk = keys::aggregate_pk(self.tenant(), &event.client_id, j);
        let amount = AmountSum::from(event.amount);
        let add = |sk: String| hour_add(table, &pk, sk, 1, amount);
        let mut commit = CommitActions {
            actions: Vec::with_capacity(4),
            put_event: 0,
            mark_retried: None,
        };
        commit.put_event = commit.push(put);
        commit.push(add(keys::all_sk(&hour))?);
        commit.push(add(keys::metric_sk(&event.metric, &hour))?);
        Ok(commit)
    }

    /// The put of a processed event, only if its key is new (the dedupe).
    pub(super) fn put_if_new(
        &self,
        record: &ProcessedRecord,
    ) -> Result<TransactWriteItem, StoreError> {
        let item: Item = ProcessedItem {
            tenant: self.tenant(),
            event_shards: self.config.event_shards,
            record,
        }
        .into();
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `status = retried`, one more attempt, and the 30-day expiry; only if the record exists.
    fn mark_retried(&self, id: &FailedId) -> Result<Update, StoreError> {
        let parts = id
            .parts()
            .ok_or_else(|| StoreError::Internal(format!("malformed failed id {:?}", id.0)))?;
        Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::failed_pk(self.tenant(), parts)))
            .key("sk", s(keys::failed_sk(id, parts)))
            .update_expression(
                "SET #status = :retried, #attempts = #attempts + :one, #expires = :ttl",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_names("#expires", "expires_at")
            .expression_attribute_values(":retried", s("retried"))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", items::expires_at(parts.received_ns))
            .build()
            .map_err(build_error)
    }

    /// Reads a cancelled transaction's reasons: a taken key is a duplicate, a conflict or
    /// throttling is transient (never a failed event), anything else is a bug.
    fn commit_failure(
        &self,
        err: SdkError<TransactWriteItemsError, HttpResponse>,
        commit: &CommitActions,
    ) -> Result<Committed, AttemptError> {
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let codes: Vec<&str> = cancelled
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            if codes.get(commit.put_event) == Some(&"ConditionalCheckFailed") {
                return Ok(Committed::Duplicate);
            }
            let mark_retried = commit.mark_retried.and_then(|index| codes.get(index));
            if mark_retried == Some(&"ConditionalCheckFailed") {
                return Err(AttemptError::Fatal(StoreError::Internal(
                    "retry of a failed record that does not exist".to_owned(),
                )));
            }
            if codes.iter().any(|code| TRANSIENT_REASONS.contains(code)) {
                self.count_transient();
                return Err(AttemptError::Transient(format!(
                    "commit cancelled: {codes:?}"
                )));
            }
            return Err(AttemptError::Fatal(StoreError::Internal(format!(
                "commit cancelled: {codes:?}"
            ))));
        }
        let failure = classify("commit", err);
        if matches!(failure, AttemptError::Transient(_)) {
            self.count_transient();
        }
        Err(failure)
    }

    pub(super) async fn put_failed_item(&self, record: &FailedRecord) -> Result<(), StoreError> {
        let item = Item::try_from(FailedItem {
            tenant: self.tenant(),
            record,
        })?;
        with_retry(self.limits(), "put failed", || {
            let request = self
                .client
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity("put failed", true, out.consumed_capacity());
                        Ok(())
                    }
                    // The id is random, so the record is there already: an earlier attempt
                    // of this same put landed and its answer was lost.
                    Err(err)
                        if matches!(
                            err.as_service_error(),
                            Some(PutItemError::ConditionalCheckFailedException(_))
                        ) =>
                    {
                        Ok(())
                    }
                    Err(err) => self.transient(classify("put failed", err)),
                }
            }
        })
        .await
    }

    pub(super) async fn add_failed_attempt(&self, id: &FailedId) -> Result<(), StoreError> {
        let parts = id
            .parts()
            .ok_or_else(|| StoreError::Internal(format!("malformed failed id {:?}", id.0)))?;
        let update = Update::builder()
            .table_name(self.table())
            .key("pk", s(keys::failed_pk(self.tenant(), parts)))
            .key("sk", s(keys::failed_sk(id, parts)))
            .update_expression("SET #attempts = #attempts + :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_error)?;
        self.update_failed(id, "record attempt", update).await
    }

    /// One conditional UpdateItem on a failed record, from a prepared `Update`.
    async fn update_failed(
        &self,
        id: &FailedId,
        what: &'static str,
        update: Update,
    ) -> Result<(), StoreError> {
        with_retry(self.limits(), what, || {
            let request = self
                .client
                .update_item()
                .table_name(update.table_name())
                .set_key(Some(update.key().clone()))
                .update_expression(update.update_expression())
                .set_condition_expression(update.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity(what, true, out.consumed_capacity());
                        Ok(())
                    }
                    Err(err)
                        if matches!(
                            err.as_service_error(),
                            Some(UpdateItemError::ConditionalCheckFailedException(_))
                        ) =>
                    {
                        Err(AttemptError::Fatal(StoreError::Internal(format!(
                            "no failed record {}",
                            id.0
                        ))))
                    }
                    Err(err) => self.transient(classify(what, err)),
                }
            }
        })
        .await
    }

    pub(super) async fn get_failed_item(
        &self,
        id: &FailedId,
    ) -> Result<Option<FailedRecord>, StoreError> {
        let Some(parts) = id.parts() else {
            return Ok(None);
        };
        let item = with_retry(self.limits(), "get failed", || {
            let request = self
                .client
                .get_item()
                .table_name(self.table())
                .key("pk", s(keys::failed_pk(self.tenant(), parts)))
                .key("sk", s(keys::failed_sk(id, parts)))
                .consistent_read(true)
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity("get failed", false, out.consumed_capacity());
                        Ok(out.item)
                    }
                    Err(err) => self.transient(classify("get failed", err)),
                }
            }
        })
        .await?;
        item.as_ref().map(FailedRecord::try_from).transpose()
    }
}
