//! What every handler gets: the store, the settings and a clock.

use std::time::{SystemTime, UNIX_EPOCH};

use event_core::EventTimestamp;

use crate::Config;

/// "Now", injected: the core never reads the clock, and tests pin it.
pub type Clock = fn() -> EventTimestamp;

/// The state built once at cold start and shared by every request.
pub struct App<S> {
    pub store: S,
    pub config: Config,
    pub clock: Clock,
}

impl<S> App<S> {
    pub fn new(store: S, config: Config) -> Self {
        App {
            store,
            config,
            clock: system_now,
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> EventTimestamp {
        (self.clock)()
    }
}

/// The system clock as an `EventTimestamp` (a clock before 1970 reads as 1970).
pub fn system_now() -> EventTimestamp {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    EventTimestamp::from_unix_nanos(nanos).unwrap_or(EventTimestamp::MIN)
}
