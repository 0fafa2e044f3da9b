//! The rate limiter's items (`crate::limits`): a take is one conditional UpdateItem on the
//! tenant's day item. DynamoDB has no `max(tat, now)`, so `limits::apply` is written as two
//! forms, tried in the order the caller's hint suggests: "busy" (`ADD` the cost to a bucket
//! time that is not past, within the tolerance) and "full" (`SET` the time to now + cost,
//! when it is past or absent). A failed condition returns the item as it was (or it is read),
//! which says whether the other form would fit: at most one more write.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity, ReturnValue};

use super::items::{n, s, Item};
use super::retry::{classify, with_retry};
use super::DynamoStore;
use crate::keys;
use crate::limits::{self, DayCounter, Meter, TakeOutcome, TokenTake, Usage, UsageDelta};
use crate::StoreError;

/// How one form of a take ended.
enum Attempt {
    Taken {
        tat_us: i64,
        leased: u64,
    },
    /// The condition failed; the item as it was, when DynamoDB returned it.
    ConditionFailed(Option<Item>),
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn counter_of(item: &Item) -> DayCounter {
    let count = |name| number(item, name).map_or(0, |v| v.max(0) as u64);
    DayCounter {
        tat_us: number(item, Meter::Events.attribute()),
        read_tat_us: number(item, Meter::Reads.attribute()),
        leased: count("leased"),
        accepted: count("accepted"),
        refused: count("refused"),
    }
}

impl DynamoStore {
    pub(super) async fn take(&self, take: &TokenTake) -> Result<TakeOutcome, StoreError> {
        let mut full_form = take.idle_hint;
        let mut found = DayCounter::default();
        // Each form at most twice: a concurrent take can move the bucket between the two.
        for _ in 0..4 {
            let busy_fits = take.cost_us <= take.tolerance_us;
            if !full_form && !busy_fits {
                // Larger than the burst: only a full bucket takes it.
                full_form = true;
            }
            match self.take_once(take, full_form).await? {
                Attempt::Taken { tat_us, leased } => {
                    return Ok(TakeOutcome::Taken { tat_us, leased })
                }
                Attempt::ConditionFailed(item) => {
                    found = match item {
                        Some(item) => counter_of(&item),
                        None => self.day_counter(&take.day).await?,
                    };
                }
            }
            if limits::apply(take, &found).is_none() {
                return Ok(TakeOutcome::Refused(found));
            }
            // It fits, in the other form (or the item moved meanwhile).
            full_form = found.tat(take.meter).is_none_or(|tat| tat < take.now_us);
        }
        Ok(TakeOutcome::Refused(found))
    }

    async fn take_once(&self, take: &TokenTake, full_form: bool) -> Result<Attempt, StoreError> {
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":now".to_owned(), n(take.now_us)),
            (":expires".to_owned(), n(take.expires_at)),
        ]);
        let mut condition = if full_form {
            values.insert(":full".to_owned(), n(take.now_us + take.cost_us));
            "(attribute_not_exists(#tat) OR #tat < :now)".to_owned()
        } else {
            values.insert(":cost".to_owned(), n(take.cost_us));
            values.insert(
                ":latest".to_owned(),
                n(take.now_us + take.tolerance_us - take.cost_us),
            );
            "#tat BETWEEN :now AND :latest".to_owned()
        };
        let mut set = vec!["expires_at = :expires"];
        let mut add = vec![];
        if full_form {
            set.push("#tat = :full");
        } else {
            add.push("#tat :cost");
        }
        if take.meter == Meter::Events {
            let net = take.tokens as i64 - take.give_back as i64;
            values.insert(":net".to_owned(), n(net));
            add.push("leased :net");
            if let Some(quota) = take.quota {
                // leased + tokens - give_back <= quota
                values.insert(":room".to_owned(), n(quota as i64 - net));
                condition.push_str(" AND (attribute_not_exists(leased) OR leased <= :room)");
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !add.is_empty() {
            expression.push_str(&format!(" ADD {}", add.join(", ")));
        }
        let what = "take tokens";
        with_retry(self.limits(), what, || {
            let request = self
                .client
                .update_item()
                .table_name(self.table())
                .key("pk", s(keys::limiter_pk(self.tenant())))
                .key("sk", s(limits::day_sk(&take.day)))
                .update_expression(&expression)
                .condition_expression(&condition)
                .expression_attribute_names("#tat", take.meter.attribute())
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity(what, true, out.consumed_capacity());
                        let new = out.attributes();
                        let tat_us = new
                            .and_then(|item| number(item, take.meter.attribute()))
                            .unwrap_or(take.now_us + take.cost_us);
                        let leased = new.and_then(|item| number(item, "leased")).unwrap_or(0);
                        Ok(Attempt::Taken {
                            tat_us,
                            leased: leased.max(0) as u64,
                        })
                    }
                    Err(err) => match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                            Ok(Attempt::ConditionFailed(failed.item().cloned()))
                        }
                        _ => self.transient(classify(what, err)),
                    },
                }
            }
        })
        .await
    }

    /// The day item, read strongly consistent (a take's condition failed and DynamoDB did not
    /// return the item).
    async fn day_counter(&self, day: &str) -> Result<DayCounter, StoreError> {
        let item = self
            .get_one(
                "read limiter day",
                keys::limiter_pk(self.tenant()),
                &limits::day_sk(day),
                true,
            )
            .await?;
        Ok(item.as_ref().map(counter_of).unwrap_or_default())
    }

    pub(super) async fn add_usage_items(&self, delta: &UsageDelta) -> Result<(), StoreError> {
        let pk = keys::limiter_pk(self.tenant());
        let day = self.add_counts(
            "add day usage",
            &pk,
            limits::day_sk(&delta.day),
            "ADD accepted :accepted, refused :refused SET expires_at = :expires",
            delta,
        );
        let minute = self.add_counts(
            "add minute usage",
            &pk,
            limits::minute_sk(&delta.minute),
            "ADD accepted :accepted SET expires_at = :expires",
            delta,
        );
        let (day, minute) = futures::join!(day, minute);
        day.and(minute)
    }

    async fn add_counts(
        &self,
        what: &str,
        pk: &str,
        sk: String,
        expression: &str,
        delta: &UsageDelta,
    ) -> Result<(), StoreError> {
        with_retry(self.limits(), what, || {
            let mut request = self
                .client
                .update_item()
                .table_name(self.table())
                .key("pk", s(pk))
                .key("sk", s(sk.clone()))
                .update_expression(expression)
                .expression_attribute_values(":accepted", n(delta.accepted))
                .expression_attribute_values(":expires", n(delta.expires_at))
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            if expression.contains(":refused") {
                request = request.expression_attribute_values(":refused", n(delta.refused));
            }
            async move {
                self.count_request();
                match request.send().await {
                    Ok(out) => {
                        self.count_capacity(what, true, out.consumed_capacity());
                        Ok(())
                    }
                    Err(err) => self.transient(classify(what, err)),
                }
            }
        })
        .await
    }

    pub(super) async fn usage_items(
        &self,
        day: &str,
        previous_minute: &str,
        current_minute: &str,
    ) -> Result<Usage, StoreError> {
        let pk = keys::limiter_pk(self.tenant());
        let day_sk = limits::day_sk(day);
        let previous_sk = limits::minute_sk(previous_minute);
        let current_sk = limits::minute_sk(current_minute);
        let (day_item, previous, current) = futures::join!(
            self.get_one("read usage", pk.clone(), &day_sk, true),
            self.get_one("read usage", pk.clone(), &previous_sk, true),
            self.get_one("read usage", pk.clone(), &current_sk, true),
        );
        let accepted = |item: Option<Item>| item.and_then(|i| number(&i, "accepted")).unwrap_or(0);
        Ok(Usage {
            day: day_item?.as_ref().map(counter_of).unwrap_or_default(),
            previous_minute_accepted: accepted(previous?).max(0) as u64,
            current_minute_accepted: accepted(current?).max(0) as u64,
        })
    }
}
