//! Records to DynamoDB items and back (`From` / `TryFrom`). An item that does not convert
//! back is a bug or a foreign write: `StoreError::Internal`, never a panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use event_core::{
    Amount, ClientId, EventHash, EventId, EventTimestamp, Metric, NormalizedEvent, Source,
};

use crate::keys;
use crate::{FailedId, FailedRecord, FailedStatus, FailureReason, ProcessedRecord, StoreError};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Rejected records, and failed ones once retried, expire this long after receipt.
pub(crate) const RETENTION_SECS: i64 = 30 * 24 * 3600;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `expires_at` (epoch seconds) of a record received at `received_ns`.
pub(crate) fn expires_at(received_ns: i64) -> AttributeValue {
    n(received_ns.div_euclid(1_000_000_000) + RETENTION_SECS)
}

fn malformed(what: &str) -> StoreError {
    StoreError::Internal(format!("malformed item: {what}"))
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(malformed(name)),
    }
}

pub(crate) fn get_n<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => Ok(text),
        _ => Err(malformed(name)),
    }
}

fn opt_s<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text)),
        Some(_) => Err(malformed(name)),
    }
}

/// A processed record as the item of its table: keys come from the tenant and shard count.
pub(crate) struct ProcessedItem<'a> {
    pub tenant: &'a str,
    pub event_shards: u32,
    pub record: &'a ProcessedRecord,
}

impl From<ProcessedItem<'_>> for Item {
    fn from(item: ProcessedItem<'_>) -> Item {
        let ProcessedItem {
            tenant,
            event_shards,
            record,
        } = item;
        let event = &record.event;
        let k = record.hash.shard(event_shards);
        let sk = keys::event_sk(event.timestamp, &record.hash);
        let mut out = Item::from([
            (
                "pk".to_owned(),
                s(keys::event_pk(tenant, &event.client_id, k)),
            ),
            ("sk".to_owned(), s(sk.clone())),
            ("client_id".to_owned(), s(event.client_id.as_str())),
            ("source".to_owned(), s(event.source.as_str())),
            ("metric".to_owned(), s(event.metric.as_str())),
            ("amount".to_owned(), n(event.amount)),
            ("timestamp".to_owned(), s(event.timestamp.to_string())),
            ("received_at".to_owned(), s(record.received_at.to_string())),
            ("event_hash".to_owned(), s(record.hash.to_string())),
            ("feed_pk".to_owned(), s(keys::feed_pk(tenant, k))),
            ("feed_sk".to_owned(), s(sk)),
        ]);
        if let Some(event_id) = &event.event_id {
            out.insert("event_id".to_owned(), s(event_id.as_str()));
        }
        out
    }
}

impl TryFrom<&Item> for ProcessedRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        // The sort key holds the exact instant; `timestamp` is the same instant as text.
        let ts_ns = keys::sk_time(get_s(item, "sk")?).ok_or_else(|| malformed("sk"))?;
        let event = NormalizedEvent {
            client_id: ClientId::parse(get_s(item, "client_id")?)
                .map_err(|_| malformed("client_id"))?,
            source: Source::parse(get_s(item, "source")?).map_err(|_| malformed("source"))?,
            metric: Metric::parse(get_s(item, "metric")?).map_err(|_| malformed("metric"))?,
            amount: Amount::parse(get_n(item, "amount")?).map_err(|_| malformed("amount"))?,
            timestamp: EventTimestamp::from_unix_nanos(ts_ns).ok_or_else(|| malformed("sk"))?,
            event_id: opt_s(item, "event_id")?
                .map(EventId::parse)
                .transpose()
                .map_err(|_| malformed("event_id"))?,
        };
        Ok(ProcessedRecord {
            event,
            hash: EventHash::from_hex(get_s(item, "event_hash")?)
                .ok_or_else(|| malformed("event_hash"))?,
            received_at: EventTimestamp::parse(get_s(item, "received_at")?)
                .map_err(|_| malformed("received_at"))?,
        })
    }
}

/// A failed record as its item. `None` when its id is not one of ours (no key can be made).
pub(crate) struct FailedItem<'a> {
    pub tenant: &'a str,
    pub record: &'a FailedRecord,
}

impl TryFrom<FailedItem<'_>> for Item {
    type Error = StoreError;

    fn try_from(item: FailedItem<'_>) -> Result<Item, StoreError> {
        let FailedItem { tenant, record } = item;
        let parts = record.failed_id.parts().ok_or_else(|| {
            StoreError::Internal(format!("malformed failed id {:?}", record.failed_id.0))
        })?;
        let sk = keys::failed_sk(&record.failed_id, parts);
        let mut out = Item::from([
            ("pk".to_owned(), s(keys::failed_pk(tenant, parts))),
            ("sk".to_owned(), s(sk.clone())),
            ("failed_id".to_owned(), s(record.failed_id.0.clone())),
            ("reason_code".to_owned(), s(record.reason.code.clone())),
            (
                "reason_message".to_owned(),
                s(record.reason.message.clone()),
            ),
            ("raw".to_owned(), s(record.raw.clone())),
            ("received_at".to_owned(), s(record.received_at.to_string())),
            ("attempts".to_owned(), n(record.attempts)),
            ("status".to_owned(), s(record.status.as_str())),
        ]);
        if let Some(field) = &record.reason.field {
            out.insert("reason_field".to_owned(), s(field.clone()));
        }
        if record.raw_truncated {
            out.insert("raw_truncated".to_owned(), AttributeValue::Bool(true));
        }
        if let Some(client) = &record.client_id {
            out.insert("client_id".to_owned(), s(client.as_str()));
            out.insert(
                "fc_pk".to_owned(),
                s(keys::failed_by_client_pk(tenant, client)),
            );
            out.insert("fc_sk".to_owned(), s(sk));
        }
        if matches!(
            record.status,
            FailedStatus::Rejected | FailedStatus::Retried
        ) {
            out.insert("expires_at".to_owned(), expires_at(parts.received_ns));
        }
        Ok(out)
    }
}

impl TryFrom<&Item> for FailedRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let status = match get_s(item, "status")? {
            "rejected" => FailedStatus::Rejected,
            "failed" => FailedStatus::Failed,
            "retried" => FailedStatus::Retried,
            _ => return Err(malformed("status")),
        };
        Ok(FailedRecord {
            failed_id: FailedId(get_s(item, "failed_id")?.to_owned()),
            client_id: opt_s(item, "client_id")?
                .map(ClientId::parse)
                .transpose()
                .map_err(|_| malformed("client_id"))?,
            reason: FailureReason {
                code: get_s(item, "reason_code")?.to_owned(),
                message: get_s(item, "reason_message")?.to_owned(),
                field: opt_s(item, "reason_field")?.map(str::to_owned),
            },
            raw: get_s(item, "raw")?.to_owned(),
            raw_truncated: matches!(item.get("raw_truncated"), Some(AttributeValue::Bool(true))),
            received_at: EventTimestamp::parse(get_s(item, "received_at")?)
                .map_err(|_| malformed("received_at"))?,
            attempts: get_n(item, "attempts")?
                .parse()
                .map_err(|_| malformed("attempts"))?,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_thirty_days_after_receipt_in_seconds() {
        assert_eq!(
            expires_at(1_700_000_000_999_999_999),
            AttributeValue::N((1_700_000_000i64 + 2_592_000).to_string())
        );
    }

    #[test]
    fn missing_or_mistyped_attributes_are_internal_errors() {
        let item = Item::from([("status".to_owned(), n(1))]);
        assert!(matches!(
            FailedRecord::try_from(&item),
            Err(StoreError::Internal(_))
        ));
        assert!(matches!(
            ProcessedRecord::try_from(&Item::new()),
            Err(StoreError::Internal(_))
        ));
    }
}
