//! The harness of `tests/reliability.rs`, which tests the guarantees of docs/contract.md under
//! pressure: the truth computed here (`calendar`, `spelling`: the events' canonical forms and
//! exact sums, never by event-core), the workloads (`workload`), many concurrent clients that
//! resend what got no definite answer (`client`), what the service must have done
//! (`checks`), and one set-up for every test (`scenario`).

pub mod calendar;
pub mod checks;
pub mod client;
pub mod scenario;
pub mod spelling;
pub mod workload;

/// One reliability test at a time (each test has its own runtime; tokio's mutex works across
/// them and is not poisoned by a failed test).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the other reliability tests off while held (their numbers stay their own).
pub async fn lock_serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// A random id for this run's client ids, so runs never see each other's events.
pub fn run_id() -> String {
    format!("{:06x}", fastrand::u32(..0x100_0000))
}
