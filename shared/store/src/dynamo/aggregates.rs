//! `aggregate`: whole hours from the hourly aggregate items (one Query per aggregate shard),
//! plus the edge hours' events (one Query per event shard and edge), all concurrently, summed
//! exactly. Cost grows with the hours in the range, not with the events. `hourly`: the same
//! hour items, one bucket per hour.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use futures::future::try_join_all;

use std::collections::HashMap;

use super::items::{get_n, get_s, s, Item};
use super::retry::{classify, with_retry};
use super::DynamoStore;
use crate::hours::{AggregatePlan, Totals, HOUR_NS};
use crate::keys::{self, SkRange};
use crate::{AggregateQuery, AggregateTotals, HourBucket, HourlyQuery, StoreError};
use event_core::{AmountSum, EventTimestamp};

/// What the items of one Query hold.
#[derive(Clone, Copy)]
enum Rows {
    /// Hourly aggregate items: `n` and `total`.
    Hours,
    /// Processed events: one each, `amount`.
    Events,
}

impl DynamoStore {
    pub(super) async fn sum(&self, query: &AggregateQuery) -> Result<AggregateTotals, StoreError> {
        let plan = AggregatePlan::new(query.from, query.to);
        let tenant = self.tenant();
        let client = &query.client_id;
        let mut queries = Vec::new();

        if let Some((first, end)) = plan.whole_hours {
            let last = EventTimestamp::from_unix_nanos(end.unix_nanos() - HOUR_NS)
                .expect("the plan's whole hours are not empty");
            let (lo, hi) = match &query.metric {
                None => (
                    keys::all_sk(&first.hour_key()),
                    keys::all_sk(&last.hour_key()),
                ),
                Some(metric) => (
                    keys::metric_sk(metric, &first.hour_key()),
                    keys::metric_sk(metric, &last.hour_key()),
                ),
            };
            for j in 0..self.config.aggregate_shards {
                let request = self
                    .base_query(keys::aggregate_pk(tenant, client, j), &lo, &hi)
                    .projection_expression("#n, #total")
                    .expression_attribute_names("#n", "n")
                    .expression_attribute_names("#total", "total");
                queries.push((request, Rows::Hours));
            }
        }
        for (from, to) in &plan.partial {
            let range = SkRange::of_times(*from, *to).expect("the plan's edges are not empty");
            let (lo, hi) = (range.lo.expect("closed"), range.hi.expect("closed"));
            for k in 0..self.config.event_shards {
                let mut request = self
                    .base_query(keys::event_pk(tenant, client, k), &lo, &hi)
                    .projection_expression("#amount")
                    .expression_attribute_names("#amount", "amount");
                if let Some(metric) = &query.metric {
                    request = request
                        .filter_expression("#metric = :metric")
                        .expression_attribute_names("#metric", "metric")
                        .expression_attribute_values(":metric", s(metric.as_str()));
                }
                queries.push((request, Rows::Events));
            }
        }

        let parts = try_join_all(
            queries
                .into_iter()
                .map(|(request, rows)| self.sum_query(request, rows)),
        )
        .await?;
        let mut totals = Totals::default();
        for part in parts {
            totals.add(part.count, part.total)?;
        }
        Ok(totals.0)
    }

    /// `pk = :pk AND sk BETWEEN :lo AND :hi` on the base table, strongly consistent (so an
    /// aggregate includes every commit that returned before it).
    fn base_query(&self, pk: String, lo: &str, hi: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":lo", s(lo))
            .expression_attribute_values(":hi", s(hi))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
    }

    /// Every page of one Query, summed.
    async fn sum_query(
        &self,
        request: QueryFluentBuilder,
        rows: Rows,
    ) -> Result<AggregateTotals, StoreError> {
        let mut totals = Totals::default();
        self.each_item(request, |item| match rows {
            Rows::Hours => {
                let (count, total) = hour_totals(item)?;
                totals.add(count, total)
            }
            Rows::Events => totals.add(1, number(item, "amount")?),
        })
        .await?;
        Ok(totals.0)
    }

    /// One bucket per hour of `[from, to)` from the hourly aggregate items alone (one Query
    /// per aggregate shard; the shards' items of an hour are added up).
    pub(super) async fn hourly(&self, query: &HourlyQuery) -> Result<Vec<HourBucket>, StoreError> {
        let hours = query.hours();
        let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
            return Ok(Vec::new());
        };
        let sk = |hour: &EventTimestamp| match &query.metric {
            None => keys::all_sk(&hour.hour_key()),
            Some(metric) => keys::metric_sk(metric, &hour.hour_key()),
        };
        let (lo, hi) = (sk(first), sk(last));
        let parts = try_join_all((0..self.config.aggregate_shards).map(|j| {
            let request = self
                .base_query(
                    keys::aggregate_pk(self.tenant(), &query.client_id, j),
                    &lo,
                    &hi,
                )
                .projection_expression("#sk, #n, #total")
                .expression_attribute_names("#n", "n")
                .expression_attribute_names("#total", "total");
            async move {
                let mut rows = Vec::new();
                self.each_item(request, |item| {
                    rows.push((get_s(item, "sk")?.to_owned(), hour_totals(item)?));
                    Ok(())
                })
                .await?;
                Ok::<_, StoreError>(rows)
            }
        }))
        .await?;
        let mut by_sk: HashMap<String, Totals> = HashMap::new();
        for (sk, (count, total)) in parts.into_iter().flatten() {
            by_sk.entry(sk).or_default().add(count, total)?;
        }
        Ok(hours
            .iter()
            .map(|hour| {
                let totals = by_sk.remove(&sk(hour)).unwrap_or_default().0;
                HourBucket {
                    hour: *hour,
                    count: totals.count,
                    total: totals.total,
                }
            })
            .collect())
    }

    /// Runs `request` page by page (each page retried inside the budget) and hands every
    /// item to `visit`.
    async fn each_item(
        &self,
        request: QueryFluentBuilder,
        mut visit: impl FnMut(&Item) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page = request.clone().set_exclusive_start_key(start.take());
            let out = with_retry(self.limits(), "aggregate", || {
                let page = page.clone();
                async move {
                    self.count_request();
                    match page.send().await {
                        Ok(out) => {
                            self.count_capacity("aggregate", false, out.consumed_capacity());
                            Ok(out)
                        }
                        Err(err) => self.transient(classify("aggregate", err)),
                    }
                }
            })
            .await?;
            for item in out.items() {
                visit(item)?;
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(()),
            }
        }
    }
}

fn number(item: &Item, name: &str) -> Result<AmountSum, StoreError> {
    get_n(item, name).and_then(|text| {
        AmountSum::parse(text)
            .ok_or_else(|| StoreError::Internal(format!("malformed item: {name} {text:?}")))
    })
}

/// `n` and `total` of an hourly aggregate item.
fn hour_totals(item: &Item) -> Result<(u64, AmountSum), StoreError> {
    let count = get_n(item, "n")?
        .parse::<u64>()
        .map_err(|_| StoreError::Internal("malformed item: n".to_owned()))?;
    Ok((count, number(item, "total")?))
}
