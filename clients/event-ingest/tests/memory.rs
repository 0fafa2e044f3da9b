//! Memory stays flat whatever the input's size: `event-ingest send` of a large NDJSON to a
//! fast test server peaks at about the same RSS as a small one, and under 64 MB.
//! `MEMORY_LINES` sets the large input's size (default 300,000 lines, ~35 MB; the README's
//! 1 GiB figure was measured by hand with the release build).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// Answers every batch item `processed` at once, counting them.
async fn fast_server(items: Arc<AtomicU64>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let items = Arc::clone(&items);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let items = Arc::clone(&items);
                        async move {
                            let body = request.into_body().collect().await?.to_bytes();
                            let batch: Value = serde_json::from_slice(&body).unwrap();
                            let n = batch["events"].as_array().unwrap().len();
                            items.fetch_add(n as u64, Ordering::Relaxed);
                            let results: Vec<String> = (0..n)
                                .map(|i| {
                                    format!(
                                        r#"{{"index":{i},"status":"processed","event_hash":"{}"}}"#,
                                        "a".repeat(64)
                                    )
                                })
                                .collect();
                            let answer = format!(
                                r#"{{"processed":{n},"duplicates":0,"failed":0,"results":[{}]}}"#,
                                results.join(",")
                            );
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(answer))))
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

/// Send `lines` events; returns the child's peak RSS in KiB.
async fn peak_rss_of_send(lines: u64) -> i64 {
    let items = Arc::new(AtomicU64::new(0));
    let address = fast_server(Arc::clone(&items)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    for i in 0..lines {
        writeln!(
            out,
            r#"{{"client_id":"mem-{}","source":"test","payload":{{"metric":"m","amount":"{}.25","timestamp":{}}}}}"#,
            i % 7,
            i % 1000,
            1_795_161_600 + i
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let binary = env!("CARGO_BIN_EXE_event-ingest").to_owned();
    let url = format!("http://{address}");
    // One child at a time in this process: RUSAGE_CHILDREN's peak is then this child's.
    let status = tokio::task::spawn_blocking(move || {
        let status = std::process::Command::new(binary)
            .args(["send", "--quiet", "--url", &url, "--key", "eik_x"])
            .arg(&file)
            .status()
            .unwrap();
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct we own.
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
        (status, usage.ru_maxrss)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0));
    assert_eq!(
        items.load(Ordering::Relaxed),
        lines,
        "every event arrived once"
    );
    status.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_however_large_the_input() {
    // RUSAGE_CHILDREN keeps the largest peak of any child so far: measure the small input
    // first, so the second figure is the large one's own (or the small one's, if larger).
    let small = peak_rss_of_send(5_000).await;
    let lines = std::env::var("MEMORY_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let large = peak_rss_of_send(lines).await;
    eprintln!("peak RSS: {small} KiB for 5,000 events, {large} KiB for {lines}");
    assert!(large < 64 * 1024, "under 64 MB: {large} KiB");
    assert!(
        large < small + 16 * 1024,
        "flat: {small} KiB -> {large} KiB"
    );
}
