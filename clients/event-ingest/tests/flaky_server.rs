//! `event-ingest send` against a server that misbehaves on purpose (hyper, in this test):
//! 429 with `Retry-After: 2`, 503 with `Retry-After: 1`, 500, connection resets, slow
//! answers, answers later than the client's timeout (after counting the batch), and batch
//! items answered `unavailable`. The command must honour every
//! Retry-After (no request sooner), finish, and report exact counts.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_core::{normalize_event, EventTimestamp};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// What the server did to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Misbehaviour {
    TooMany,
    Unavailable,
    ServerError,
    Reset,
    Slow,
    /// Processes the batch, then answers after the client's timeout: the answer is lost.
    TooSlow,
    SomeItemsUnavailable,
    Normal,
}

/// The script: by the request's number, so every kind happens several times.
fn misbehaviour(n: usize) -> Misbehaviour {
    match n {
        0 => Misbehaviour::TooMany,
        1 => Misbehaviour::Reset,
        2 => Misbehaviour::Unavailable,
        n if n % 9 == 3 => Misbehaviour::TooMany,
        n if n % 9 == 5 => Misbehaviour::Reset,
        n if n % 9 == 6 => Misbehaviour::SomeItemsUnavailable,
        n if n % 9 == 7 => Misbehaviour::Slow,
        n if n % 11 == 4 => Misbehaviour::Unavailable,
        n if n % 13 == 8 => Misbehaviour::ServerError,
        n if n % 17 == 10 => Misbehaviour::TooSlow,
        _ => Misbehaviour::Normal,
    }
}

#[derive(Default)]
struct Server {
    requests: usize,
    /// When each request arrived, and what it was told.
    log: Vec<(Instant, Misbehaviour)>,
    /// When a throttle answer was sent and how long it asked to wait.
    throttles: Vec<(Instant, Duration)>,
    counted: HashSet<String>,
    unavailable_items: u64,
    answered_processed: u64,
    answered_duplicate: u64,
    /// Events counted in a request whose answer the client never got.
    processed_unanswered: u64,
}

fn answer(status: u16, retry_after: Option<u64>, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response")
}

fn error_body(code: &str) -> Value {
    json!({"error": {"code": code, "message": format!("test server: {code}"), "request_id": "t"}})
}

async fn handle(
    server: Arc<Mutex<Server>>,
    kind: Misbehaviour,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let body = request
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    match kind {
        Misbehaviour::TooMany => {
            server
                .lock()
                .unwrap()
                .throttles
                .push((Instant::now(), Duration::from_secs(2)));
            return answer(429, Some(2), json!({"message": "Too Many Requests"}));
        }
        Misbehaviour::Unavailable => {
            server
                .lock()
                .unwrap()
                .throttles
                .push((Instant::now(), Duration::from_secs(1)));
            return answer(503, Some(1), error_body("storage_unavailable"));
        }
        Misbehaviour::ServerError => {
            return answer(
                500,
                None,
                json!({"error": {"code": "internal_error", "message": "x", "request_id": "t"}}),
            )
        }
        Misbehaviour::Slow => tokio::time::sleep(Duration::from_millis(1000)).await,
        _ => {}
    }
    let batch: Value = serde_json::from_slice(&body).expect("a JSON body");
    let events = batch["events"].as_array().expect("a batch");
    assert!(
        events.len() <= 500 && body.len() <= 1024 * 1024,
        "within the limits"
    );
    let results = count_batch(&mut server.lock().unwrap(), kind, events);
    if kind == Misbehaviour::TooSlow {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    answer(
        200,
        None,
        json!({"processed": 0, "duplicates": 0, "failed": 0, "results": results}),
    )
}

/// Count a batch's events as the real service would: once per distinct hash.
fn count_batch(server_state: &mut Server, kind: Misbehaviour, events: &[Value]) -> Vec<Value> {
    let mut results = Vec::new();
    for (index, event) in events.iter().enumerate() {
        if kind == Misbehaviour::SomeItemsUnavailable && index % 2 == 0 {
            server_state.unavailable_items += 1;
            results.push(
                json!({"index": index, "status": "unavailable", "retryable": true,
                "error": {"code": "storage_unavailable", "message": "resend"}}),
            );
            continue;
        }
        let raw = serde_json::value::to_raw_value(event).expect("raw");
        let parsed = normalize_event(&raw, EventTimestamp::from_unix_nanos(i64::MAX / 2).unwrap())
            .expect("the client sends valid events only");
        let hash = parsed.hash.to_string();
        let status = if server_state.counted.insert(hash.clone()) {
            if kind == Misbehaviour::TooSlow {
                server_state.processed_unanswered += 1;
            } else {
                server_state.answered_processed += 1;
            }
            "processed"
        } else {
            if kind != Misbehaviour::TooSlow {
                server_state.answered_duplicate += 1;
            }
            "duplicate"
        };
        results.push(json!({"index": index, "status": status, "event_hash": hash}));
    }
    results
}

/// Serve the script; one request per connection, so a reset ends exactly one request.
async fn serve(server: Arc<Mutex<Server>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let kind = {
                let mut s = server.lock().unwrap();
                let kind = misbehaviour(s.requests);
                s.requests += 1;
                s.log.push((Instant::now(), kind));
                kind
            };
            if kind == Misbehaviour::Reset {
                // Read the request, then drop the connection with a TCP reset.
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    let _ = stream.readable().await;
                    let _ = stream.try_read(&mut buffer);
                    let _ = stream.set_zero_linger();
                    drop(stream);
                });
                continue;
            }
            let server = Arc::clone(&server);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let server = Arc::clone(&server);
                    async move { Ok::<_, std::convert::Infallible>(handle(server, kind, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// 600 valid events (100 of them repeats in another spelling) and 7 invalid lines.
fn input() -> (String, usize, usize, usize) {
    let mut lines = Vec::new();
    for i in 0..500u64 {
        lines.push(
            json!({"client_id": "flaky", "payload": {"amount": i, "timestamp": 1_795_161_600 + i}})
                .to_string(),
        );
    }
    for i in 0..100u64 {
        // The same events, spelled otherwise: amount as a decimal string, RFC 3339 time.
        let ts = chrono_like(1_795_161_600 + i * 3);
        lines.push(format!(r#"{{ "payload": {{ "timestamp": "{ts}", "amount": "{}.000" }}, "client_id": "flaky" }}"#, i * 3));
    }
    for i in 0..7 {
        lines.insert(
            50 + i * 80,
            r#"{"client_id":"flaky","payload":{"amount":"abc","timestamp":1795161600}}"#.to_owned(),
        );
    }
    (lines.join("\n") + "\n", 600, 500, 7)
}

/// Epoch seconds as RFC 3339 with an offset of +01:00 (another spelling of the same time).
fn chrono_like(epoch: u64) -> String {
    let t = EventTimestamp::from_unix_nanos((epoch as i64 + 3600) * 1_000_000_000).unwrap();
    t.to_string().replace('Z', "+01:00")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_honours_every_retry_after_survives_resets_and_reports_exact_counts() {
    // GIVEN a server that throttles, fails, resets and dawdles
    let server = Arc::new(Mutex::new(Server::default()));
    let address = serve(Arc::clone(&server)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let (text, valid, distinct, invalid) = input();
    std::fs::write(&file, text).unwrap();
    let report = dir.path().join("report.json");

    // WHEN the command sends the file
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args([
            "send",
            "--quiet",
            "--batch-size",
            "40",
            "--concurrency",
            "4",
            "--timeout",
            "2s",
        ])
        .args(["--url", &format!("http://{address}"), "--key", "eik_test"])
        .arg("--report")
        .arg(&report)
        .arg(&file)
        .output()
        .await
        .expect("run event-ingest");

    // THEN it finishes, with status 1 (some records rejected)
    assert_eq!(
        output.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let server = server.lock().unwrap();
    // every Retry-After was honoured: no request arrived sooner (a request already on its
    // way when the answer left may arrive within a few milliseconds)
    for &(sent, wait) in &server.throttles {
        for &(arrived, _) in &server.log {
            if arrived > sent + Duration::from_millis(100) {
                assert!(
                    arrived >= sent + wait,
                    "a request {:?} after a Retry-After of {wait:?}",
                    arrived - sent
                );
            }
        }
    }
    let kinds: HashSet<_> = server.log.iter().map(|(_, k)| *k).collect();
    for kind in [
        Misbehaviour::TooMany,
        Misbehaviour::Unavailable,
        Misbehaviour::ServerError,
        Misbehaviour::Reset,
        Misbehaviour::Slow,
        Misbehaviour::TooSlow,
        Misbehaviour::SomeItemsUnavailable,
    ] {
        assert!(kinds.contains(&kind), "the script reached {kind:?}");
    }
    // and the counts are exact
    assert_eq!(
        server.counted.len(),
        distinct,
        "each distinct event counted once"
    );
    eprintln!(
        "report {report}\nserver: {} requests, {:?}, processed answered {} unanswered {} duplicate {}",
        server.requests,
        server.log.iter().map(|(_, k)| *k).collect::<Vec<_>>(),
        server.answered_processed,
        server.processed_unanswered,
        server.answered_duplicate
    );
    // an event counted in a request whose answer was lost comes back as a duplicate
    assert!(server.processed_unanswered > 0, "some answers were lost");
    assert_eq!(
        report["processed"],
        json!(distinct as u64 - server.processed_unanswered)
    );
    assert_eq!(
        report["duplicate"],
        json!((valid - distinct) as u64 + server.processed_unanswered)
    );
    assert_eq!(
        server.answered_processed + server.processed_unanswered,
        distinct as u64
    );
    assert_eq!(report["rejected"], json!(invalid));
    assert_eq!(report["failed"], json!(0));
    assert_eq!(
        report["unavailable_resent"],
        json!(server.unavailable_items)
    );
    assert_eq!(
        report["requests"],
        json!(server.requests),
        "every attempt is counted"
    );
    let failed_attempts = server
        .log
        .iter()
        .filter(|(_, k)| {
            !matches!(
                k,
                Misbehaviour::Normal | Misbehaviour::Slow | Misbehaviour::SomeItemsUnavailable
            )
        })
        .count();
    let partial = server
        .log
        .iter()
        .filter(|(_, k)| *k == Misbehaviour::SomeItemsUnavailable)
        .count();
    assert_eq!(report["retries"], json!(failed_attempts + partial));
    assert_eq!(report["ending"], json!("complete"));
}

#[tokio::test]
async fn a_refused_key_stops_the_run_with_status_3_and_the_servers_sentence() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    *counter.lock().unwrap() += 1;
                    async {
                        Ok::<_, std::convert::Infallible>(answer(
                            401,
                            None,
                            json!({"error": {"code": "unauthorized", "message": "This key was revoked, sorry.", "request_id": "t"}}),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    let line = r#"{"client_id":"c","payload":{"timestamp":1795161600}}"#;
    std::fs::write(&file, format!("{line}\n").repeat(3)).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args([
            "send",
            "--url",
            &format!("http://{address}"),
            "--key",
            "eik_secret_value",
        ])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("This key was revoked, sorry."), "{stderr}");
    assert!(
        !stderr.contains("eik_secret_value"),
        "the key is never printed"
    );
    assert_eq!(*requests.lock().unwrap(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn an_unreachable_server_gives_up_with_status_4_and_the_state_saved() {
    // A port nobody listens on.
    let address = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    std::fs::write(
        &file,
        r#"{"client_id":"c","payload":{"timestamp":1795161600}}"#,
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args([
            "send",
            "--quiet",
            "--max-attempts",
            "3",
            "--backoff-cap",
            "100ms",
        ])
        .args(["--url", &format!("http://{address}"), "--key", "eik_x"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let state = dir.path().join("e.ndjson.event-ingest-state");
    assert!(state.exists(), "the state is saved for a resume");
}

#[tokio::test]
async fn a_second_run_on_the_same_input_is_refused_while_the_first_runs() {
    // GIVEN a run waiting on a server that never answers
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let connected = Arc::new(tokio::sync::Notify::new());
    let signal = Arc::clone(&connected);
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            held.push(stream); // accepted, never answered
            signal.notify_one();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("e.ndjson");
    std::fs::write(
        &file,
        r#"{"client_id":"c","payload":{"timestamp":1795161600}}"#,
    )
    .unwrap();
    let send = || {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"));
        command
            .args(["send", "--quiet", "--timeout", "60s"])
            .args(["--url", &format!("http://{address}"), "--key", "eik_x"])
            .arg(&file)
            .kill_on_drop(true);
        command
    };
    let mut first = send().spawn().unwrap();
    // Its request arrived, so it holds the input's lock (taken before reading).
    tokio::time::timeout(Duration::from_secs(30), connected.notified())
        .await
        .expect("the first run connects");

    // WHEN a second run of the same input starts
    let second = send().output().await.unwrap();

    // THEN it is refused (status 2), and the first one is still running
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another event-ingest is sending"),
        "{stderr}"
    );
    assert!(first.try_wait().unwrap().is_none());
    first.kill().await.unwrap();
}
