//! The rate limiter's counter items: a take follows the token bucket and the daily quota
//! exactly (`limits::apply`), in whichever of its two forms the store needs, under
//! concurrency too; usage counts add up.

use futures::future::join_all;

use crate::limits::{Meter, TakeOutcome, TokenTake, UsageDelta};
use crate::Store;

const DAY: &str = "2024-03-10";
/// 2024-03-10T00:00:00Z in µs.
const T0: i64 = 1_710_028_800 * 1_000_000;
const S: i64 = 1_000_000;

/// A take of `tokens` at `now` from a bucket of 10 tokens a second, 10 at once, with a
/// daily quota of 25.
fn take(now: i64, tokens: u64) -> TokenTake {
    TokenTake {
        day: DAY.to_owned(),
        meter: Meter::Events,
        now_us: now,
        tokens,
        cost_us: 100_000 * tokens as i64,
        tolerance_us: S,
        quota: Some(25),
        give_back: 0,
        idle_hint: false,
        expires_at: T0 / S + 3 * 86_400,
    }
}

async fn taken<S: Store>(store: &S, take: &TokenTake) -> (i64, u64) {
    match store.take_tokens(take).await.expect("take") {
        TakeOutcome::Taken { tat_us, leased } => (tat_us, leased),
        TakeOutcome::Refused(found) => panic!("refused {take:?}: {found:?}"),
    }
}

async fn refused<S: Store>(store: &S, take: &TokenTake) -> crate::limits::DayCounter {
    match store.take_tokens(take).await.expect("take") {
        TakeOutcome::Refused(found) => found,
        taken => panic!("taken {take:?}: {taken:?}"),
    }
}

/// `store` is scoped to a tenant of its own, with no limiter items yet.
pub async fn a_take_follows_the_bucket_and_the_quota<S: Store>(store: &S) {
    // A full bucket: the whole burst at once, then nothing more at the same instant.
    assert_eq!(taken(store, &take(T0, 10)).await, (T0 + S, 10));
    let found = refused(store, &take(T0, 1)).await;
    assert_eq!((found.tat_us, found.leased), (Some(T0 + S), 10));
    // Half a second later, five tokens have come back (the bound is inclusive).
    assert_eq!(
        taken(store, &take(T0 + S / 2, 5)).await,
        (T0 + 3 * S / 2, 15)
    );
    refused(store, &take(T0 + S / 2, 1)).await;
    // Long after, the bucket is full again: the other form of the update (hinted wrong).
    assert_eq!(
        taken(store, &take(T0 + 10 * S, 10)).await,
        (T0 + 11 * S, 25)
    );
    // The quota of 25 is used up, whatever the bucket says ...
    let found = refused(store, &take(T0 + 20 * S, 1)).await;
    assert_eq!(found.leased, 25);
    // ... until unused tokens are handed back in the same write.
    let back = TokenTake {
        give_back: 3,
        idle_hint: true,
        ..take(T0 + 20 * S, 1)
    };
    assert_eq!(taken(store, &back).await.1, 23);
    // Larger than the burst: only a full bucket takes it.
    let big = TokenTake {
        quota: None,
        ..take(T0 + 40 * S, 15)
    };
    assert_eq!(taken(store, &big).await.0, T0 + 40 * S + 15 * S / 10);
    refused(
        store,
        &TokenTake {
            quota: None,
            ..take(T0 + 40 * S, 1)
        },
    )
    .await;
    // The read bucket is another attribute of the same item.
    let read = TokenTake {
        meter: Meter::Reads,
        quota: None,
        ..take(T0 + 41 * S, 1)
    };
    assert_eq!(taken(store, &read).await.0, T0 + 41 * S + S / 10);
}

/// Twenty takes of one token race on a fresh day's bucket of ten: exactly ten are taken.
pub async fn racing_takes_never_overdraw_the_bucket<S: Store>(store: &S) {
    let day = "2024-03-11";
    let now = T0 + 86_400 * S;
    let takes: Vec<_> = (0..20)
        .map(|i| TokenTake {
            day: day.to_owned(),
            quota: None,
            idle_hint: i % 2 == 0,
            ..take(now, 1)
        })
        .collect();
    let outcomes = join_all(takes.iter().map(|t| store.take_tokens(t))).await;
    let granted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(TakeOutcome::Taken { .. })))
        .count();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(granted, 10, "{outcomes:?}");
}

/// Counts from several instances add up per day and per minute.
pub async fn usage_counts_add_up<S: Store>(store: &S) {
    let delta = |minute: &str, accepted, refused| UsageDelta {
        day: DAY.to_owned(),
        minute: format!("{DAY}T{minute}"),
        accepted,
        refused,
        expires_at: T0 / S + 3 * 86_400,
    };
    store.add_usage(&delta("10:41", 5, 1)).await.unwrap();
    store.add_usage(&delta("10:42", 7, 0)).await.unwrap();
    store.add_usage(&delta("10:42", 3, 4)).await.unwrap();
    let usage = store
        .usage(DAY, &format!("{DAY}T10:41"), &format!("{DAY}T10:42"))
        .await
        .unwrap();
    assert_eq!((usage.day.accepted, usage.day.refused), (15, 5));
    assert_eq!(usage.previous_minute_accepted, 5);
    assert_eq!(usage.current_minute_accepted, 10);
    let other_day = store
        .usage("2024-03-12", "2024-03-12T00:00", "2024-03-12T00:01")
        .await
        .unwrap();
    assert_eq!(other_day, Default::default());
}
