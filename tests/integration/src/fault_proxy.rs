//! A fault-injecting HTTP proxy in front of DynamoDB (LocalStack), and the functions served
//! through it by a second `cargo lambda watch`.
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
//! `ProxiedFunctions` serves the same functions as the main stack with `AWS_ENDPOINT_URL`
//! pointed at such a proxy (as `StorageDown` does with a dead endpoint), for a tenant made for
//! the test with `new_tenant`, with keys on as deployed: key and tenant lookups go through the
//! faults too. What the functions wrote can be read back through the main stack (no faults)
//! with that tenant's key.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::{base_url, new_tenant, repo_root, watch_command, Api, StatusCode};

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
                            tokio::spawn(serve_connection(state.clone(), stream));
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

/// One HTTP/1.1 message as read: its bytes exactly (forwarded as they are), its headers
/// (names lowercased) and its body (chunked framing removed).
struct Message {
    raw: Vec<u8>,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The sender closes the connection after this message.
    close: bool,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads one message; `Ok(None)` when the connection ended before its first byte.
async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    response: bool,
) -> io::Result<Option<Message>> {
    const MAX_HEAD: usize = 64 * 1024;
    let mut raw = Vec::new();
    if reader.read_until(b'\n', &mut raw).await? == 0 {
        return Ok(None);
    }
    let start_line = String::from_utf8_lossy(&raw).trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let from = raw.len();
        if reader.read_until(b'\n', &mut raw).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = std::str::from_utf8(&raw[from..])
            .map_err(|_| invalid("header is not UTF-8"))?
            .trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("header without a colon"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        if raw.len() > MAX_HEAD {
            return Err(invalid("head too large"));
        }
    }
    let status = if response {
        start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("status line"))?
    } else {
        0
    };
    let mut message = Message {
        raw,
        status,
        headers,
        body: Vec::new(),
        close: false,
    };
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = message
        .header("content-length")
        .map(|v| v.parse::<usize>().map_err(|_| invalid("content-length")))
        .transpose()?;
    if chunked {
        loop {
            let from = message.raw.len();
            if reader.read_until(b'\n', &mut message.raw).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = String::from_utf8_lossy(&message.raw[from..]).to_string();
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
            if size == 0 {
                // trailers, then the empty line
                loop {
                    let from = message.raw.len();
                    if reader.read_until(b'\n', &mut message.raw).await? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    if message.raw[from..]
                        .iter()
                        .all(|b| *b == b'\r' || *b == b'\n')
                    {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk[..size]);
            message.raw.extend_from_slice(&chunk);
        }
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        message.raw.extend_from_slice(&body);
        message.body = body;
    } else if response && !matches!(status, 100..=199 | 204 | 304) {
        reader.read_to_end(&mut message.body).await?;
        message.raw.extend_from_slice(&message.body);
        message.close = true;
    }
    if message
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    {
        message.close = true;
    }
    Ok(Some(message))
}

/// Ends a connection with a TCP reset instead of an answer.
fn reset(stream: BufReader<TcpStream>) {
    let stream = stream.into_inner();
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn serve_connection(shared: Arc<Shared>, client: TcpStream) {
    let _ = client.set_nodelay(true);
    // the function's end of this connection: its local address is our peer, its remote ours
    let caller = client.peer_addr().ok().zip(client.local_addr().ok());
    let mut client = BufReader::new(client);
    let mut upstream: Option<BufReader<TcpStream>> = None;
    loop {
        let request = match read_message(&mut client, false).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        let operation = request
            .header("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let plan = shared
            .plan
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // the items this transaction updates, registered while it is in flight
        let mut updates = Vec::new();
        let overlap = plan.overlap_conflicts
            && operation == "TransactWriteItems"
            && !begin_updates(&shared, &request, &mut updates);
        let fault = match &plan.brownout {
            _ if overlap => Some((Fault::OverlapConflict, plan.delay)),
            Some(brownout) => brownout_fault(&shared, brownout, &operation, &request),
            None => plan.pick(&operation).map(|fault| (fault, plan.delay)),
        };
        {
            let mut stats = shared.stats();
            *stats.calls.entry(operation.clone()).or_default() += 1;
            if let Some((fault, _)) = fault {
                *stats.faults.entry(fault).or_default() += 1;
                *stats
                    .faults_by_operation
                    .entry((fault, operation.clone()))
                    .or_default() += 1;
            }
        }
        let answer = match fault {
            None => forward(&shared, &mut upstream, &request).await.ok(),
            Some((Fault::ConnectionReset, _)) => None,
            Some((Fault::LostAnswer, _)) => {
                let _ = forward(&shared, &mut upstream, &request).await;
                None
            }
            Some((Fault::Delay | Fault::BrownoutHold, hold)) => {
                // past the attempt timeout the SDK gives up on this attempt meanwhile; the
                // call still lands afterwards
                tokio::time::sleep(hold).await;
                forward(&shared, &mut upstream, &request).await.ok()
            }
            Some((Fault::BrownoutThrottle, hold)) => {
                tokio::time::sleep(hold).await;
                Some(error_answer(Fault::Throttling, &request))
            }
            Some((Fault::CrashBeforeCommit, _)) => {
                kill_caller(&shared, caller);
                None
            }
            Some((Fault::CrashInFlight, _)) => {
                // killed a moment after the transaction left for DynamoDB
                let killing = async {
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..5))).await;
                    kill_caller(&shared, caller);
                };
                let _ = futures::join!(forward(&shared, &mut upstream, &request), killing);
                None
            }
            Some((Fault::CrashAfterCommit, _)) => {
                let _ = forward(&shared, &mut upstream, &request).await;
                kill_caller(&shared, caller);
                None
            }
            Some((Fault::OverlapConflict, _)) => {
                Some(error_answer(Fault::TransactionConflict, &request))
            }
            Some((error, _)) => Some(error_answer(error, &request)),
        };
        end_updates(&shared, &updates);
        let Some((bytes, close)) = answer else {
            reset(client);
            return;
        };
        if client.get_mut().write_all(&bytes).await.is_err() || close {
            return;
        }
    }
}

/// Registers the items `request` (a TransactWriteItems) updates into `updates` and as in
/// flight, unless one of them already is: then registers nothing and returns false.
fn begin_updates(shared: &Shared, request: &Message, updates: &mut Vec<String>) -> bool {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let keys: Vec<String> = body["TransactItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("Update"))
        .map(|update| format!("{} {}", update["TableName"], canonical_json(&update["Key"])))
        .collect();
    let mut updating = shared.updating.lock().unwrap_or_else(|e| e.into_inner());
    if keys.iter().any(|key| updating.contains_key(key)) {
        return false;
    }
    for key in keys {
        *updating.entry(key.clone()).or_default() += 1;
        updates.push(key);
    }
    true
}

/// The transaction that registered `updates` is no longer in flight.
fn end_updates(shared: &Shared, updates: &[String]) {
    if updates.is_empty() {
        return;
    }
    let mut updating = shared.updating.lock().unwrap_or_else(|e| e.into_inner());
    for key in updates {
        if let Some(n) = updating.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                updating.remove(key);
            }
        }
    }
}

/// SIGKILL the process at the other end of the proxy's connection from `caller` (a function
/// process: its DynamoDB client's socket), found through /proc as `ss -p` would.
fn kill_caller(shared: &Shared, caller: Option<(SocketAddr, SocketAddr)>) {
    match caller.and_then(|(local, remote)| pid_of_socket(local, remote)) {
        Some(pid) => {
            let killed = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            let mut stats = shared.stats();
            match killed {
                true => stats.kills += 1,
                false => stats.kills_missed += 1,
            }
        }
        None => shared.stats().kills_missed += 1,
    }
}

/// The process holding the IPv4 TCP socket from `local` to `remote`. Both ends are matched:
/// one local port may serve several connections to other places (another process's).
fn pid_of_socket(local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    // /proc/net/tcp: addresses as little-endian hex IP and hex port, inode in column 10
    let hex = |addr: SocketAddr| match addr {
        SocketAddr::V4(v4) => Some(format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        )),
        SocketAddr::V6(_) => None,
    };
    let (local, remote) = (hex(local)?, hex(remote)?);
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        let ours =
            columns.get(1) == Some(&local.as_str()) && columns.get(2) == Some(&remote.as_str());
        ours.then(|| columns.get(9).map(|c| c.to_string()))?
    })?;
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path())
                .is_ok_and(|target| target.as_os_str() == wanted.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// The brownout's verdict on one call: its operation's first attempts throttled, then held.
fn brownout_fault(
    shared: &Shared,
    brownout: &Brownout,
    operation: &str,
    request: &Message,
) -> Option<(Fault, Duration)> {
    let hold = brownout
        .operations
        .iter()
        .find(|(op, _)| op == operation)
        .map(|(_, hold)| *hold)?;
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let key = format!("{operation} {}", canonical_json(&body));
    let attempt = {
        let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
        let count = seen.entry(key).or_default();
        *count += 1;
        *count
    };
    match attempt <= brownout.throttled_attempts {
        true => Some((Fault::BrownoutThrottle, brownout.throttle_hold)),
        false => Some((Fault::BrownoutHold, hold)),
    }
}

/// JSON text with object keys sorted at every level (the SDK builds a new map per attempt,
/// so the same request may come with its keys in another order).
fn canonical_json(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{:?}:{}", k, canonical_json(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// Sends `request` to DynamoDB on this connection's upstream connection and returns the
/// answer's bytes (and whether to close after it).
async fn forward(
    shared: &Shared,
    upstream: &mut Option<BufReader<TcpStream>>,
    request: &Message,
) -> io::Result<(Vec<u8>, bool)> {
    for _ in 0..2 {
        let reused = upstream.is_some();
        if upstream.is_none() {
            let stream = TcpStream::connect(shared.upstream).await?;
            let _ = stream.set_nodelay(true);
            *upstream = Some(BufReader::new(stream));
        }
        let connection = upstream.as_mut().expect("connected above");
        let sent_at = std::time::Instant::now();
        let sent = connection.get_mut().write_all(&request.raw).await;
        let answer = match sent {
            Ok(()) => read_message(connection, true).await,
            Err(error) => Err(error),
        };
        match answer {
            Ok(Some(answer)) => {
                if answer.close {
                    *upstream = None;
                }
                observe(shared, &answer);
                record_commits(shared, request, &answer, sent_at);
                return Ok((answer.raw, answer.close));
            }
            // An idle keep-alive connection the server had closed: nothing was read, so
            // nothing was processed; send again on a fresh connection.
            Ok(None) if reused => {
                *upstream = None;
                shared.stats().reconnects += 1;
            }
            Err(error)
                if reused
                    && matches!(
                        error.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
            {
                *upstream = None;
                shared.stats().reconnects += 1;
            }
            other => {
                *upstream = None;
                shared.stats().upstream_failures += 1;
                return Err(match other {
                    Err(error) => error,
                    _ => io::ErrorKind::UnexpectedEof.into(),
                });
            }
        }
    }
    shared.stats().upstream_failures += 1;
    Err(io::ErrorKind::ConnectionReset.into())
}

/// Notes the events a successful `TransactWriteItems` put (`Put.Item.event_hash`), with the
/// instant the transaction was sent.
fn record_commits(
    shared: &Shared,
    request: &Message,
    answer: &Message,
    sent_at: std::time::Instant,
) {
    let transaction = request
        .header("x-amz-target")
        .is_some_and(|t| t.ends_with(".TransactWriteItems"));
    if !transaction || answer.status != 200 {
        return;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body) else {
        return;
    };
    let mut committed = shared.committed.lock().unwrap_or_else(|e| e.into_inner());
    for action in body["TransactItems"].as_array().into_iter().flatten() {
        if let Some(hash) = action["Put"]["Item"]["event_hash"]["S"].as_str() {
            let first = committed.entry(hash.to_owned()).or_insert(sent_at);
            *first = (*first).min(sent_at);
        }
    }
}

/// Counts an error DynamoDB answered itself.
fn observe(shared: &Shared, answer: &Message) {
    if answer.status < 400 {
        return;
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let kind = body["__type"]
        .as_str()
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| format!("HTTP {}", answer.status));
    let key = match body["CancellationReasons"].as_array() {
        Some(reasons) => {
            let mut codes: Vec<&str> = reasons
                .iter()
                .filter_map(|r| r["Code"].as_str())
                .filter(|code| *code != "None")
                .collect();
            codes.sort_unstable();
            codes.dedup();
            format!("{kind}[{}]", codes.join(","))
        }
        None => kind,
    };
    *shared.stats().upstream_errors.entry(key).or_default() += 1;
}

/// The answer DynamoDB gives for `fault` (a JSON 1.0 error body), and keep the connection.
fn error_answer(fault: Fault, request: &Message) -> (Vec<u8>, bool) {
    const NS: &str = "com.amazonaws.dynamodb.v20120810";
    let (status, body) = match fault {
        Fault::ProvisionedThroughputExceeded => (
            400,
            serde_json::json!({
                "__type": format!("{NS}#ProvisionedThroughputExceededException"),
                "message": "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API. (injected)",
            }),
        ),
        Fault::InternalServerError => (
            500,
            serde_json::json!({
                "__type": format!("{NS}#InternalServerError"),
                "message": "Internal server error (injected)",
            }),
        ),
        Fault::TransactionConflict => {
            let actions = serde_json::from_slice::<serde_json::Value>(&request.body)
                .ok()
                .and_then(|body| body["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1)
                .max(1);
            let conflicting = fastrand::usize(..actions);
            let reasons: Vec<serde_json::Value> = (0..actions)
                .map(|i| match i == conflicting {
                    true => serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}),
                    false => serde_json::json!({"Code": "None"}),
                })
                .collect();
            let names: Vec<&str> = (0..actions)
                .map(|i| match i == conflicting {
                    true => "TransactionConflict",
                    false => "None",
                })
                .collect();
            (
                400,
                serde_json::json!({
                    "__type": format!("{NS}#TransactionCanceledException"),
                    "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", names.join(", ")),
                    "CancellationReasons": reasons,
                }),
            )
        }
        // Throttling, and any kind that has no error body of its own
        _ => (
            400,
            serde_json::json!({
                "__type": "com.amazon.coral.availability#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput. (injected)",
            }),
        ),
    };
    let body = body.to_string();
    let reason = if status == 500 {
        "Internal Server Error"
    } else {
        "Bad Request"
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault-{:016x}\r\ncontent-length: {}\r\n\r\n",
        fastrand::u64(..),
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    (bytes, false)
}

/// The base URL of the main local stack (auth on, no faults).
pub fn stack_base_url() -> String {
    base_url().to_owned()
}

/// A client of the main local stack sending `key`.
pub fn stack_api(key: &str) -> Api {
    Api::at(base_url()).with_key(Some(key))
}

/// What the functions logged about their store retries (`RUST_LOG` debug for the retry
/// module): "transient fault, retrying" and "retry budget spent" lines.
#[derive(Debug, Clone, Default)]
pub struct RetryLog {
    /// In-process retries (attempts after a transient fault).
    pub retries: u64,
    pub by_operation: BTreeMap<String, u64>,
    /// The fault each retry followed, reduced to its kind.
    pub by_reason: BTreeMap<String, u64>,
    /// Operations that gave up (`StoreError::Unavailable`).
    pub budget_spent: u64,
    /// Retries per event hash, for requests that carried one event.
    pub per_event: HashMap<String, u64>,
}

impl RetryLog {
    fn parse(text: &str) -> Self {
        let mut log = RetryLog::default();
        for line in text.lines() {
            let spent = line.contains("\"retry budget spent\"");
            if !spent && !line.contains("\"transient fault, retrying\"") {
                continue;
            }
            let Some(start) = line.find('{') else {
                continue;
            };
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line[start..]) else {
                continue;
            };
            if spent {
                log.budget_spent += 1;
                continue;
            }
            log.retries += 1;
            let operation = entry["operation"].as_str().unwrap_or("?").to_owned();
            *log.by_operation.entry(operation).or_default() += 1;
            let reason = entry["reason"].as_str().unwrap_or("");
            *log.by_reason
                .entry(reason_kind(reason).to_owned())
                .or_default() += 1;
            if let Some(hash) = entry["span"]["event_hash"].as_str() {
                *log.per_event.entry(hash.to_owned()).or_default() += 1;
            }
        }
        log
    }
}

fn reason_kind(reason: &str) -> &'static str {
    const KINDS: [(&str, &str); 8] = [
        ("TransactionConflict", "TransactionConflict"),
        (
            "ProvisionedThroughputExceeded",
            "ProvisionedThroughputExceeded",
        ),
        ("Throttling", "Throttling"),
        ("InternalServerError", "InternalServerError"),
        ("timeout", "attempt timeout"),
        ("timed out", "attempt timeout"),
        ("dispatch", "connection failure"),
        ("response", "broken answer"),
    ];
    KINDS
        .iter()
        .find(|(needle, _)| reason.contains(needle))
        .map(|(_, kind)| *kind)
        .unwrap_or("other")
}

/// The functions under a second `cargo lambda watch` whose DynamoDB is reached through a
/// `FaultProxy`, serving tenant `tenant` (its key `key`). Stopped when dropped.
pub struct ProxiedFunctions {
    watcher: Child,
    pub proxy: FaultProxy,
    /// `http://127.0.0.1:port` of the proxied functions.
    pub base: String,
    /// The tenant they serve, and a key of it for the main stack (to read back without faults).
    pub tenant: String,
    pub key: String,
    log: PathBuf,
}

impl ProxiedFunctions {
    /// Makes a tenant `{name}-…` with a key, starts a proxy with `plan` to the stack's
    /// DynamoDB, and serves the functions through it with `concurrency` instances per function,
    /// keys on as deployed (every request must carry `key`; its lookups go through the proxy
    /// too). The functions log their store retries at debug level (see `retry_log`).
    pub async fn start(name: &str, plan: FaultPlan, concurrency: u32) -> Self {
        Self::start_with_settings(name, plan, concurrency, &[]).await
    }

    /// `start`, with `settings` (`NAME=value`) replacing the stack's own for these
    /// functions only.
    pub async fn start_with_settings(
        name: &str,
        plan: FaultPlan,
        concurrency: u32,
        settings: &[String],
    ) -> Self {
        base_url(); // the main stack is up, so .local/stack.env exists and the functions compiled
        let (tenant, key) = new_tenant(name, "*").await;
        let root = repo_root();
        let local = root.join(".local");
        let stack_env = std::fs::read_to_string(local.join("stack.env")).expect(".local/stack.env");
        let endpoint = stack_env
            .lines()
            .find_map(|line| line.strip_prefix("AWS_ENDPOINT_URL="))
            .expect("AWS_ENDPOINT_URL in .local/stack.env")
            .trim()
            .to_owned();
        let proxy = FaultProxy::start(&endpoint, plan);
        let env: String = stack_env
            .lines()
            .filter(|line| {
                !["AUTH=", "TENANT=", "RUST_LOG="]
                    .iter()
                    .any(|p| line.starts_with(p))
                    && !settings.iter().any(|setting| {
                        setting
                            .split_once('=')
                            .is_some_and(|(name, _)| line.starts_with(&format!("{name}=")))
                    })
            })
            .map(|line| match line.starts_with("AWS_ENDPOINT_URL=") {
                true => format!("AWS_ENDPOINT_URL={}\n", proxy.endpoint()),
                false => format!("{line}\n"),
            })
            .chain([
                "AUTH=on\n".to_owned(),
                // quoted: the env file parser refuses a second `=` in a bare value
                "RUST_LOG=\"info,event_store::dynamo::retry=debug\"\n".to_owned(),
            ])
            .chain(settings.iter().map(|setting| format!("{setting}\n")))
            .collect();
        let env_file = local.join(format!("{name}.env"));
        std::fs::write(&env_file, env).expect("write the proxied functions' env file");
        let port = super::free_port();
        let log = local.join(format!("{name}-watch.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let watcher = watch_command(&local)
            .args(["-P", &port.to_string()])
            .args(["--concurrency", &concurrency.max(1).to_string()])
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(&root)
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .expect("start cargo lambda watch (installed by scripts/stack.py tools)");
        let mut functions = ProxiedFunctions {
            watcher,
            proxy,
            base: format!("http://127.0.0.1:{port}"),
            tenant,
            key,
            log,
        };
        functions.wait_until_serving().await;
        functions
    }

    /// Every function answers a request that needs no storage with its own 400.
    async fn wait_until_serving(&mut self) {
        let http = reqwest::Client::new();
        let probes = [
            (reqwest::Method::GET, "/aggregates"),
            (reqwest::Method::GET, "/events/processed?limit=0"),
            (reqwest::Method::POST, "/events"),
        ];
        for (method, path) in probes {
            let mut ready = false;
            for _ in 0..600 {
                let sent = http
                    .request(method.clone(), format!("{}{path}", self.base))
                    .header("x-api-key", &self.key)
                    .body("not json")
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status() == StatusCode::BAD_REQUEST) {
                    ready = true;
                    break;
                }
                if let Ok(Some(status)) = self.watcher.try_wait() {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    panic!("cargo lambda watch exited ({status}): {log}");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert!(
                ready,
                "the proxied functions did not start; see {}",
                self.log.display()
            );
        }
    }

    /// A client of the proxied functions, sending the tenant's key (needed when `auth`).
    pub fn api(&self) -> Api {
        Api::at(&self.base).with_key(Some(&self.key))
    }

    /// A client of the main stack (no faults) acting for the same tenant.
    pub fn stack_api(&self) -> Api {
        stack_api(&self.key)
    }

    /// The store retries the functions logged so far.
    pub fn retry_log(&self) -> RetryLog {
        RetryLog::parse(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }
}

impl Drop for ProxiedFunctions {
    fn drop(&mut self) {
        crate::stop_process_group(&mut self.watcher);
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

    #[test]
    fn a_conflict_has_one_reason_per_action() {
        let body = br#"{"TransactItems":[{"Put":{}},{"Update":{}},{"Update":{}}]}"#;
        let request = Message {
            raw: Vec::new(),
            status: 0,
            headers: Vec::new(),
            body: body.to_vec(),
            close: false,
        };
        let (bytes, _) = error_answer(Fault::TransactionConflict, &request);
        let text = String::from_utf8(bytes).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        let reasons = json["CancellationReasons"].as_array().unwrap();
        assert_eq!(reasons.len(), 3);
        assert_eq!(
            reasons
                .iter()
                .filter(|r| r["Code"] == "TransactionConflict")
                .count(),
            1
        );
        assert!(text.starts_with("HTTP/1.1 400 "));
    }

    #[tokio::test]
    async fn messages_with_length_and_chunks_are_read_whole() {
        let text = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        let mut reader = BufReader::new(&text[..]);
        let first = read_message(&mut reader, true).await.unwrap().unwrap();
        assert_eq!(first.body, b"{}");
        let second = read_message(&mut reader, true).await.unwrap().unwrap();
        assert_eq!(second.body, b"{}");
        assert_eq!(second.raw.len(), text.len() - first.raw.len());
        assert!(read_message(&mut reader, true).await.unwrap().is_none());
    }
}
