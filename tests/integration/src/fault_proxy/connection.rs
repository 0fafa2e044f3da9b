//! One caller's connection through the proxy: each call read, its fault drawn (or the
//! brownout's, or an overlapping transaction's), then forwarded, answered with DynamoDB's
//! error, reset, held, or its calling function process killed; what DynamoDB answered and
//! committed is noted in the proxy's stats.

use std::io;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::http::{read_message, reset, Message};
use super::{Brownout, Fault, Shared};

pub(super) async fn serve_connection(shared: Arc<Shared>, client: TcpStream) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
