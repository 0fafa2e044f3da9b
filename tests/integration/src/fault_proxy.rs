//! A fault-injecting HTTP proxy in front of DynamoDB (LocalStack).
//!
//! `FaultProxy` listens on a free local port and forwards each DynamoDB JSON call (HTTP/1.1,
//! one `X-Amz-Target` operation per request) to the stack's endpoint. For a configurable
//! share of calls it answers instead what DynamoDB answers when it fails ([`Fault`]):
//! throttling and throughput errors, a 500, a cancelled transaction with a
//! `TransactionConflict` reason (one reason per action of the request, as DynamoDB does),
//! a connection reset, an answer later than the SDK's attempt timeout, or — the hard case —
//! it forwards the call, lets DynamoDB commit it, and drops the answer. It counts what it did
//! per fault and per operation, and the errors DynamoDB itself answered (real conflicts,
//! conditional-check failures), so a test can report them.
//!
//! Here: the faults, the plan, the stats and the proxy's handle; `connection` serves one
//! caller's connection (forward, inject, kill), `http` reads the HTTP messages. The functions
//! served through such a proxy are `launcher::ProxiedFunctions`.

mod connection;
mod http;

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;

/// One way a DynamoDB call can fail, as the proxy injects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 400 `ProvisionedThroughputExceededException`; nothing forwarded.
    ProvisionedThroughputExceeded,
    /// HTTP 400 `ThrottlingException`; nothing forwarded.
    Throttling,
    /// HTTP 500 `InternalServerError`; nothing forwarded.
    InternalServerError,
    /// HTTP 400 `TransactionCanceledException` whose reasons (one per action) name one
    /// `TransactionConflict`; only for `TransactWriteItems`; nothing forwarded.
    TransactionConflict,
    /// The connection is reset (RST) instead of an answer; nothing forwarded.
    ConnectionReset,
    /// The call is held past the SDK's attempt timeout, then forwarded anyway (a late write
    /// that may land after the function retried or gave up).
    Delay,
    /// The call is forwarded and DynamoDB's answer thrown away (connection reset): the write
    /// happened and the function does not know.
    LostAnswer,
    /// Brownout (`Brownout`): held, then throttled, for the operation's first attempts.
    BrownoutThrottle,
    /// Brownout: held, then forwarded, for the attempt after those.
    BrownoutHold,
    /// The function process that made the call is killed (SIGKILL) before it is forwarded:
    /// nothing was written. Only for `TransactWriteItems` (a commit).
    CrashBeforeCommit,
    /// The call is forwarded and the process killed while it is in flight: the transaction
    /// commits (or not) with nobody left to hear of it.
    CrashInFlight,
    /// The call is forwarded, DynamoDB commits and answers, and the process is killed before
    /// the answer reaches it: counted, and the client never told.
    CrashAfterCommit,
    /// `FaultPlan::overlap_conflicts`: a transaction that updates an item another transaction
    /// in flight updates is cancelled (`TransactionConflict`), as DynamoDB does; nothing
    /// forwarded.
    OverlapConflict,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::ProvisionedThroughputExceeded,
        Fault::Throttling,
        Fault::InternalServerError,
        Fault::TransactionConflict,
        Fault::ConnectionReset,
        Fault::Delay,
        Fault::LostAnswer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::ProvisionedThroughputExceeded => "400 ProvisionedThroughputExceededException",
            Fault::Throttling => "400 ThrottlingException",
            Fault::InternalServerError => "500 InternalServerError",
            Fault::TransactionConflict => "400 TransactionCanceledException [TransactionConflict]",
            Fault::ConnectionReset => "connection reset, not forwarded",
            Fault::Delay => "answer later than the SDK attempt timeout (then forwarded)",
            Fault::LostAnswer => "forwarded, committed, answer dropped (reset)",
            Fault::BrownoutThrottle => "brownout: held, then 400 ThrottlingException",
            Fault::BrownoutHold => "brownout: held, then forwarded",
            Fault::CrashBeforeCommit => "function killed (SIGKILL) before the commit was sent",
            Fault::CrashInFlight => "function killed while the commit was in flight",
            Fault::CrashAfterCommit => "function killed after the commit, before the answer",
            Fault::OverlapConflict => {
                "400 TransactionCanceledException [TransactionConflict]: an item updated by a transaction in flight"
            }
        }
    }

    /// The faults answered at once, without forwarding the call: nothing reaches DynamoDB,
    /// so nothing is written (a late or lost answer would land the write).
    pub const UNFORWARDED: [Fault; 5] = [
        Fault::ProvisionedThroughputExceeded,
        Fault::Throttling,
        Fault::InternalServerError,
        Fault::TransactionConflict,
        Fault::ConnectionReset,
    ];

    pub const CRASHES: [Fault; 3] = [
        Fault::CrashBeforeCommit,
        Fault::CrashInFlight,
        Fault::CrashAfterCommit,
    ];

    fn applies_to(self, operation: &str) -> bool {
        match self {
            Fault::TransactionConflict
            | Fault::CrashBeforeCommit
            | Fault::CrashInFlight
            | Fault::CrashAfterCommit => operation == "TransactWriteItems",
            _ => true,
        }
    }
}

/// Which calls get which faults.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// Share of the eligible calls that get a fault, 0.0 to 1.0.
    pub share: f64,
    /// The faults drawn from, equally likely (those that apply to the call's operation).
    pub kinds: Vec<Fault>,
    /// Only calls of these operations (`TransactWriteItems`, `PutItem`, ...) are eligible;
    /// empty: every call.
    pub operations: Vec<String>,
    /// How long `Fault::Delay` holds a call: longer than the functions' attempt timeout (3 s).
    pub delay: Duration,
    /// A deterministic slow storage instead of random faults (see `Brownout`).
    pub brownout: Option<Brownout>,
    /// Model DynamoDB's transaction conflicts, which DynamoDB Local (it runs transactions one
    /// at a time) never answers: a transaction whose `Update` targets an item that a
    /// transaction still in flight through this proxy updates is cancelled.
    pub overlap_conflicts: bool,
}

/// A storage brownout, as an adversary of the functions' retry budget: the first
/// `throttled_attempts` calls of each store operation (its attempts send the same request)
/// are held for `throttle_hold` and then answered with a throttling error; the next one is
/// held for the operation's `hold`, then forwarded. With holds just under the attempt
/// timeout (3 s), each store operation lasts about as long as its budget allows (no new
/// attempt after 6 s, each attempt up to 3 s): a final `hold` under 3 s makes it succeed
/// then, above 3 s fail then.
#[derive(Debug, Clone)]
pub struct Brownout {
    pub throttled_attempts: u32,
    pub throttle_hold: Duration,
    /// (operation, hold of the attempt after the throttled ones)
    pub operations: Vec<(String, Duration)>,
}

impl FaultPlan {
    /// Forward everything (the proxy only observes).
    pub fn none() -> Self {
        FaultPlan {
            share: 0.0,
            kinds: Fault::ALL.to_vec(),
            operations: Vec::new(),
            delay: Duration::from_millis(3_500),
            brownout: None,
            overlap_conflicts: false,
        }
    }

    /// Only `brownout`, no random faults.
    pub fn brownout(brownout: Brownout) -> Self {
        FaultPlan {
            brownout: Some(brownout),
            ..FaultPlan::none()
        }
    }

    /// Every kind of fault, on `share` of all calls.
    pub fn every_kind(share: f64) -> Self {
        FaultPlan {
            share,
            ..FaultPlan::none()
        }
    }

    /// The `UNFORWARDED` faults, on `share` of all calls: they fail fast and write nothing.
    pub fn unforwarded(share: f64) -> Self {
        FaultPlan {
            kinds: Fault::UNFORWARDED.to_vec(),
            ..FaultPlan::every_kind(share)
        }
    }

    fn pick(&self, operation: &str) -> Option<Fault> {
        if self.share <= 0.0
            || (!self.operations.is_empty() && !self.operations.iter().any(|o| o == operation))
            || fastrand::f64() >= self.share
        {
            return None;
        }
        let kinds: Vec<Fault> = self
            .kinds
            .iter()
            .copied()
            .filter(|kind| kind.applies_to(operation))
            .collect();
        (!kinds.is_empty()).then(|| kinds[fastrand::usize(..kinds.len())])
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    /// Connections the callers opened to the proxy.
    pub connections: u64,
    /// Function processes killed by a crash fault (their pid found from the connection).
    pub kills: u64,
    /// Crash faults whose calling process could not be found (then only the connection is
    /// reset, as for `ConnectionReset`).
    pub kills_missed: u64,
    /// Calls received, per operation.
    pub calls: BTreeMap<String, u64>,
    /// Faults injected, per kind.
    pub faults: BTreeMap<Fault, u64>,
    /// Faults injected, per kind and operation.
    pub faults_by_operation: BTreeMap<(Fault, String), u64>,
    /// Errors DynamoDB itself answered to forwarded calls, by error type (a cancelled
    /// transaction by its reasons other than `None`, e.g.
    /// `TransactionCanceledException[ConditionalCheckFailed]`).
    pub upstream_errors: BTreeMap<String, u64>,
    /// Forwarded calls whose connection to DynamoDB had been closed while idle and that were
    /// sent again on a fresh one before any answer byte (not a fault).
    pub reconnects: u64,
    /// Forwarded calls DynamoDB did not answer (the proxy then resets the client's connection).
    pub upstream_failures: u64,
}

impl ProxyStats {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }

    /// Calls received of one operation (`TransactWriteItems`, ...).
    pub fn calls_of(&self, operation: &str) -> u64 {
        self.calls.get(operation).copied().unwrap_or(0)
    }

    /// One Markdown list item per fault kind: `count (operations)`.
    pub fn fault_lines(&self) -> Vec<String> {
        self.faults
            .iter()
            .map(|(fault, count)| {
                let by_op: Vec<String> = self
                    .faults_by_operation
                    .iter()
                    .filter(|((f, _), _)| f == fault)
                    .map(|((_, op), n)| format!("{op} {n}"))
                    .collect();
                format!("{}: {count} ({})", fault.name(), by_op.join(", "))
            })
            .collect()
    }

    fn calls_line(&self) -> String {
        self.calls
            .iter()
            .map(|(op, n)| format!("{op} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A one-paragraph summary for reports.
    pub fn summary(&self) -> String {
        let upstream: Vec<String> = self
            .upstream_errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        format!(
            "{} DynamoDB calls ({}); {} faults injected; errors DynamoDB answered itself: {}",
            self.total_calls(),
            self.calls_line(),
            self.total_faults(),
            if upstream.is_empty() {
                "none".to_owned()
            } else {
                upstream.join(", ")
            }
        )
    }
}

struct Shared {
    upstream: SocketAddr,
    plan: Mutex<FaultPlan>,
    stats: Mutex<ProxyStats>,
    /// How often each distinct request (operation + canonical body) came (brownout).
    seen: Mutex<HashMap<String, u32>>,
    /// Items (`Update` keys) of the transactions in flight, with how many update each.
    updating: Mutex<HashMap<String, u32>>,
    /// For each event (by hash), when the first transaction that put it and that DynamoDB
    /// answered with success was sent to DynamoDB (the commit happened after that instant;
    /// the answer is read later, and a concurrent duplicate may be answered in between).
    committed: Mutex<HashMap<String, std::time::Instant>>,
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, ProxyStats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The proxy: runs on a thread of its own (each test has its own runtime), stopped when
/// dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://host:port`, as `AWS_ENDPOINT_URL`) following `plan`.
    pub fn start(upstream: &str, plan: FaultPlan) -> Self {
        let hostport = upstream.trim_start_matches("http://").trim_end_matches('/');
        let upstream = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("upstream endpoint {upstream:?} is not http://host:port"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            upstream,
            plan: Mutex::new(plan),
            stats: Mutex::default(),
            seen: Mutex::default(),
            updating: Mutex::default(),
            committed: Mutex::default(),
        });
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fault-proxy".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("proxy listener");
                    let accept = async {
                        loop {
                            let Ok((stream, _)) = listener.accept().await else {
                                continue;
                            };
                            state.stats().connections += 1;
                            tokio::spawn(connection::serve_connection(state.clone(), stream));
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stop => {}
                    }
                });
                // connections still open (held calls) are dropped with the runtime
                runtime.shutdown_background();
            })
            .expect("proxy thread");
        FaultProxy {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:port`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        *self.shared.plan.lock().unwrap_or_else(|e| e.into_inner()) = plan;
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Changes only the share of calls that get a fault (0 turns faults off).
    pub fn set_share(&self, share: f64) {
        self.shared
            .plan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .share = share;
    }

    pub fn stats(&self) -> ProxyStats {
        self.shared.stats().clone()
    }

    /// When the first transaction that put the event `hash` and that DynamoDB committed was
    /// sent to DynamoDB (its answer may then have been lost on the way back): the event was
    /// not stored before this instant.
    pub fn first_commit(&self, hash: &str) -> Option<std::time::Instant> {
        self.shared
            .committed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .copied()
    }

    /// Starts counting from zero.
    pub fn reset_stats(&self) {
        *self.shared.stats() = ProxyStats::default();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_without_share_never_faults() {
        let plan = FaultPlan::none();
        assert!((0..1000).all(|_| plan.pick("TransactWriteItems").is_none()));
    }

    #[test]
    fn transaction_conflicts_are_only_drawn_for_transactions() {
        let plan = FaultPlan {
            share: 1.0,
            kinds: vec![Fault::TransactionConflict],
            ..FaultPlan::none()
        };
        assert!((0..100).all(|_| plan.pick("PutItem").is_none()));
        assert!(
            (0..100).all(|_| plan.pick("TransactWriteItems") == Some(Fault::TransactionConflict))
        );
    }
}
