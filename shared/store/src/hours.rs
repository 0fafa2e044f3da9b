//! How an aggregate over `[from, to)` splits into whole hours (read from the hourly
//! aggregate items) and at most two partial edge ranges (summed from the events themselves).

use event_core::{AmountSum, EventTimestamp};

use crate::{AggregateTotals, StoreError};

pub const HOUR_NS: i64 = 3_600_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AggregatePlan {
    /// `[first, end)`: hours starting at `first`, `first + 1h`, … before `end` (both whole hours).
    pub whole_hours: Option<(EventTimestamp, EventTimestamp)>,
    /// Ranges `[from, to)` to sum from processed events; at most two, none longer than an hour
    /// unless they are adjacent halves of one short range.
    pub partial: Vec<(EventTimestamp, EventTimestamp)>,
}

impl AggregatePlan {
    /// Open bounds: `from` defaults to the epoch, `to` to `EventTimestamp::MAX`.
    pub fn new(from: Option<EventTimestamp>, to: Option<EventTimestamp>) -> AggregatePlan {
        let from = from.unwrap_or(EventTimestamp::MIN);
        let to = to.unwrap_or(EventTimestamp::MAX);
        let mut plan = AggregatePlan::default();
        if to <= from {
            return plan;
        }
        let floor_from = from.floor_hour();
        let first_whole = if floor_from == from {
            Some(from)
        } else {
            floor_from
                .unix_nanos()
                .checked_add(HOUR_NS)
                .and_then(EventTimestamp::from_unix_nanos)
        };
        let end_whole = to.floor_hour();
        match first_whole {
            Some(first) if first < end_whole => {
                plan.whole_hours = Some((first, end_whole));
                if from < first {
                    plan.partial.push((from, first));
                }
                if end_whole < to {
                    plan.partial.push((end_whole, to));
                }
            }
            // No whole hour inside: the range lies within one hour or straddles one boundary.
            _ => plan.partial.push((from, to)),
        }
        plan
    }
}

/// Exact running totals; overflow is an error, never a wrap.
#[derive(Default)]
pub(crate) struct Totals(pub AggregateTotals);

impl Totals {
    pub(crate) fn add(&mut self, n: u64, total: AmountSum) -> Result<(), StoreError> {
        self.0.count += n;
        self.0.total = self
            .0
            .total
            .checked_add(total)
            .ok_or_else(|| StoreError::Internal("aggregate total overflows".to_owned()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ns: i64) -> EventTimestamp {
        EventTimestamp::from_unix_nanos(ns).unwrap()
    }

    #[test]
    fn aligned_bounds_are_all_whole_hours() {
        let plan = AggregatePlan::new(Some(ts(2 * HOUR_NS)), Some(ts(5 * HOUR_NS)));
        assert_eq!(plan.whole_hours, Some((ts(2 * HOUR_NS), ts(5 * HOUR_NS))));
        assert!(plan.partial.is_empty());
    }

    #[test]
    fn ragged_bounds_add_two_edges() {
        let plan = AggregatePlan::new(Some(ts(2 * HOUR_NS + 7)), Some(ts(5 * HOUR_NS + 9)));
        assert_eq!(plan.whole_hours, Some((ts(3 * HOUR_NS), ts(5 * HOUR_NS))));
        assert_eq!(
            plan.partial,
            vec![
                (ts(2 * HOUR_NS + 7), ts(3 * HOUR_NS)),
                (ts(5 * HOUR_NS), ts(5 * HOUR_NS + 9))
            ]
        );
    }

    #[test]
    fn short_ranges_are_one_partial_range() {
        let inside = AggregatePlan::new(Some(ts(HOUR_NS + 1)), Some(ts(HOUR_NS + 50)));
        assert_eq!(inside.whole_hours, None);
        assert_eq!(inside.partial, vec![(ts(HOUR_NS + 1), ts(HOUR_NS + 50))]);
        let straddle = AggregatePlan::new(Some(ts(HOUR_NS + 1)), Some(ts(2 * HOUR_NS + 50)));
        assert_eq!(straddle.whole_hours, None);
        assert_eq!(straddle.partial.len(), 1);
        assert_eq!(
            AggregatePlan::new(Some(ts(9)), Some(ts(9))),
            AggregatePlan::default()
        );
    }

    #[test]
    fn open_bounds_cover_everything() {
        let plan = AggregatePlan::new(None, None);
        let (first, end) = plan.whole_hours.unwrap();
        assert_eq!(first, EventTimestamp::MIN);
        assert_eq!(end, EventTimestamp::MAX.floor_hour());
        assert_eq!(
            plan.partial,
            vec![(EventTimestamp::MAX.floor_hour(), EventTimestamp::MAX)]
        );
    }
}
