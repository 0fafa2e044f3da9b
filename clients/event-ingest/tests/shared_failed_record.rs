//! Two lines of one event in one batch (a resend in another spelling) that the server kept as
//! failed are answered with the same failed record (the repeat gets its first copy's
//! outcome). `send --retry-failed` retries that record once and settles both lines: the
//! report ends with nothing failed (before: one line stayed "failed" with no record to
//! retry, in every resumed run, as the stack test through storage faults once found).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Batches: every item failed, all with failed record `F1`. Retries of `F1`: processed.
async fn server(retries: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let retries = Arc::clone(&retries);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let retries = Arc::clone(&retries);
                        async move {
                            let path = request.uri().path().to_owned();
                            let body = request.into_body().collect().await?.to_bytes();
                            let answer = if path == "/events/failed/F1/retry" {
                                retries.fetch_add(1, Ordering::SeqCst);
                                let mut response = Response::new(Full::new(Bytes::from(
                                    json!({"status": "processed", "event_hash": "a".repeat(64)})
                                        .to_string(),
                                )));
                                *response.status_mut() = hyper::StatusCode::CREATED;
                                return Ok::<_, hyper::Error>(response);
                            } else {
                                let batch: Value = serde_json::from_slice(&body).unwrap();
                                let n = batch["events"].as_array().unwrap().len();
                                let results: Vec<Value> = (0..n)
                                    .map(|index| {
                                        json!({"index": index, "status": "failed", "failed_id": "F1",
                                               "retryable": true,
                                               "error": {"code": "storage_failed", "message": "kept"}})
                                    })
                                    .collect();
                                json!({"processed": 0, "duplicates": 0, "failed": n, "results": results})
                            };
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(
                                answer.to_string(),
                            ))))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

#[tokio::test]
async fn two_lines_kept_under_one_failed_record_are_settled_by_one_retry() {
    let retries = Arc::new(AtomicU64::new(0));
    let address = server(Arc::clone(&retries)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    // the same event twice: an amount spelled two ways
    std::fs::write(
        &file,
        concat!(
            r#"{"client_id":"acme","payload":{"amount":"10","timestamp":1795161600}}"#,
            "\n",
            r#"{"client_id":"acme","payload":{"amount":"10.00","timestamp":1795161600}}"#,
            "\n"
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_event-ingest"))
        .args(["send", "--quiet", "--retry-failed", "--report"])
        .arg(&report)
        .arg(&file)
        .env("EVENT_INGEST_URL", format!("http://{address}"))
        .env(
            "EVENT_INGEST_KEY",
            "eik_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .output()
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["processed"], 1, "{report}");
    assert_eq!(report["duplicate"], 1, "{report}");
    assert_eq!(
        retries.load(Ordering::SeqCst),
        1,
        "one retry for the one record"
    );
    assert!(output.status.success(), "{report}");
}
