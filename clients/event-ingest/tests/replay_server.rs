//! `event-ingest failed replay` against a test server of `POST /events/failed/retry`: the
//! command follows `next_cursor` until it is null, sends the selection with every page,
//! counts a record answered `unavailable` once the cursor brings it back settled (as the
//! server does: its cursor resumes at the first unavailable record), and reports exact counts.

use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Default)]
struct Seen {
    /// The bodies of `POST /events/failed/retry`, in order.
    pages: Vec<Value>,
    /// The paths of single retries.
    single: Vec<String>,
}

fn page(cursor: Option<&str>) -> Value {
    match cursor {
        None => json!({"results": [
            {"failed_id": "f1", "status": "processed", "event_hash": "a".repeat(64)},
            {"failed_id": "f2", "status": "duplicate", "event_hash": "b".repeat(64)},
            {"failed_id": "f3", "status": "skipped", "code": "invalid_amount"},
        ], "next_cursor": "c1"}),
        Some("c1") => json!({"results": [
            {"failed_id": "f4", "status": "failed", "code": "storage_failed"},
            {"failed_id": "u1", "status": "unavailable", "code": "storage_unavailable"},
        ], "next_cursor": "c2"}),
        // The cursor resumed at the unavailable record: settled now.
        Some("c2") => json!({"results": [
            {"failed_id": "u1", "status": "processed", "event_hash": "c".repeat(64)},
        ], "next_cursor": "c3"}),
        // A page may be empty while a cursor is set; then the end.
        Some("c3") => json!({"results": [], "next_cursor": null}),
        Some(other) => panic!("a cursor the server never gave: {other}"),
    }
}

async fn handle(seen: Arc<Mutex<Seen>>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let answer = if path == "/events/failed/retry" {
        let selection: Value = serde_json::from_slice(&body).unwrap();
        let answer = page(selection["cursor"].as_str());
        seen.lock().unwrap().pages.push(selection);
        (200, answer)
    } else {
        seen.lock().unwrap().single.push(path);
        (
            201,
            json!({"status": "processed", "event_hash": "c".repeat(64), "event": {}}),
        )
    };
    Response::builder()
        .status(answer.0)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer.1.to_string())))
        .unwrap()
}

#[tokio::test]
async fn replay_follows_the_cursor_to_the_end_and_counts_every_record() {
    // GIVEN a server with three pages of replay answers
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shared = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let seen = Arc::clone(&seen);
                    async move { Ok::<_, std::convert::Infallible>(handle(seen, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("replay.json");

    // WHEN the command replays a selection
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args(["failed", "replay", "--quiet", "--client", "acme-web"])
        .args([
            "--code",
            "storage_failed",
            "--code",
            "simulated_failure",
            "--limit",
            "50",
        ])
        .args(["--url", &format!("http://{address}"), "--key", "eik_x"])
        .arg("--report")
        .arg(&report)
        .output()
        .await
        .unwrap();

    // THEN every page was asked for with the selection and the previous cursor
    let seen = seen.lock().unwrap();
    let cursors: Vec<Option<&str>> = seen.pages.iter().map(|p| p["cursor"].as_str()).collect();
    assert_eq!(cursors, vec![None, Some("c1"), Some("c2"), Some("c3")]);
    for selection in &seen.pages {
        assert_eq!(selection["client_id"], json!("acme-web"));
        assert_eq!(
            selection["codes"],
            json!(["storage_failed", "simulated_failure"])
        );
        assert_eq!(selection["limit"], json!(50));
    }
    // the unavailable record was not retried on its own: the cursor came back to it
    assert!(seen.single.is_empty(), "{:?}", seen.single);
    // and the report counts each record once; one record is still failed: status 1
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["records"], json!(5));
    assert_eq!(report["processed"], json!(2), "f1 and u1");
    assert_eq!(report["duplicate"], json!(1));
    assert_eq!(report["skipped"], json!(1));
    assert_eq!(report["failed"], json!(1));
    assert_eq!(report["unavailable_resent"], json!(1));
    assert_eq!(report["requests"], json!(4));
    assert_eq!(
        report["by_status"],
        json!({"duplicate": 1, "failed": 1, "processed": 2, "skipped": 1})
    );
    assert_eq!(report["failed_events"][0]["failed_id"], json!("f4"));
}
