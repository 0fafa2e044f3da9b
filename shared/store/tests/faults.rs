//! `DynamoStore` against a scripted fake DynamoDB (a local socket answering each request as
//! told): what the emulator cannot produce on demand. Transaction conflicts, throttling, 5xx
//! and lost answers are retried inside the budget with the same idempotency token and never
//! turn into a failure or a second count; a spent budget is `Unavailable`; a bug is not retried.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use event_core::{Amount, ClientId, EventTimestamp, Metric, NormalizedEvent, Source};
use event_store::{
    CommitOutcome, DynamoStore, FailedId, ProcessedRecord, RetryBudget, Store, StoreConfig,
    StoreError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone)]
enum Answer {
    Ok(&'static str),
    Error(u16, &'static str, &'static str),
    /// Never answer (the client's attempt timeout fires).
    Hang,
}

fn cancelled(reasons: &'static str) -> Answer {
    Answer::Error(400, "TransactionCanceledException", reasons)
}

/// Requests seen: `(X-Amz-Target operation, JSON body)`.
type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Serves `script` in order (then `{}` with 200) and records every request.
async fn fake_dynamodb(script: Vec<Answer>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let seen: Seen = Arc::default();
    let recorded = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (script, seen) = (script.clone(), recorded.clone());
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    // One request: headers, then Content-Length bytes of body.
                    let head_end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.strip_prefix(&format!("{name}:")))
                            .map(|v| v.trim().to_owned())
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: serde_json::Value =
                        serde_json::from_slice(&buffer[head_end..head_end + length])
                            .unwrap_or_default();
                    buffer.drain(..head_end + length);
                    let target = header("x-amz-target").unwrap_or_default();
                    let operation = target.rsplit('.').next().unwrap_or("").to_owned();
                    seen.lock().unwrap().push((operation, body));
                    let answer = script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or(Answer::Ok("{}"));
                    let (status, text) = match answer {
                        Answer::Ok(body) => (200, body.to_owned()),
                        Answer::Error(status, kind, extra) => (
                            status,
                            format!(
                                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"scripted"{extra}}}"#
                            ),
                        ),
                        Answer::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                    };
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, seen)
}

fn budget(max_attempts: u32) -> RetryBudget {
    RetryBudget {
        max_attempts,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(10),
        attempt_timeout: Duration::from_millis(300),
    }
}

async fn store(endpoint: &str, max_attempts: u32) -> DynamoStore {
    let sdk = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "fake"))
        .endpoint_url(endpoint)
        .build();
    DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(sdk),
        StoreConfig::new("events").with_retry(budget(max_attempts)),
    )
}

fn record() -> ProcessedRecord {
    let event = NormalizedEvent {
        client_id: ClientId::parse("acme").unwrap(),
        source: Source::parse("web").unwrap(),
        metric: Metric::parse("purchase").unwrap(),
        amount: Amount::parse("12.5").unwrap(),
        timestamp: EventTimestamp::from_unix_nanos(1_710_028_800_000_000_000).unwrap(),
        event_id: None,
    };
    ProcessedRecord {
        hash: event.hash(),
        event,
        received_at: EventTimestamp::from_unix_nanos(1_710_028_801_000_000_000).unwrap(),
    }
}

const CONFLICT: &str =
    r#","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict"},{"Code":"None"}]"#;
const TAKEN: &str =
    r#","CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"None"},{"Code":"None"}]"#;

fn tokens(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(op, _)| op == "transactwriteitems")
        .map(|(_, body)| body["ClientRequestToken"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn conflicts_and_throttling_are_retried_with_one_token_until_committed() {
    // GIVEN DynamoDB that conflicts, throttles, fails with 500, then commits
    let (endpoint, seen) = fake_dynamodb(vec![
        cancelled(CONFLICT),
        Answer::Error(400, "ThrottlingException", ""),
        Answer::Error(400, "ProvisionedThroughputExceededException", ""),
        Answer::Error(500, "InternalServerError", ""),
        Answer::Ok(r#"{"ConsumedCapacity":[{"TableName":"events","CapacityUnits":6.0}]}"#),
    ])
    .await;
    let store = store(&endpoint, 10).await;

    // WHEN an event is committed THEN it is processed, after five attempts of one transaction
    assert_eq!(
        store.commit_event(&record()).await.unwrap(),
        CommitOutcome::Processed
    );
    let tokens = tokens(&seen);
    assert_eq!(tokens.len(), 5);
    assert!(!tokens[0].is_empty() && tokens.iter().all(|t| *t == tokens[0]));
    let stats = store.stats();
    assert_eq!((stats.requests, stats.transient_faults), (5, 4));
    assert_eq!(stats.write_units, 6.0);

    // AND the transaction is the data model's: conditional put + two ADDs, consumed capacity asked
    let body = seen.lock().unwrap()[0].1.clone();
    assert_eq!(body["ReturnConsumedCapacity"], "TOTAL");
    let items = body["TransactItems"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0]["Put"]["ConditionExpression"],
        "attribute_not_exists(pk)"
    );
    let hash = record().hash.to_string();
    assert_eq!(
        items[0]["Put"]["Item"]["sk"]["S"],
        format!("1710028800000000000#{hash}")
    );
    assert_eq!(items[1]["Update"]["Key"]["sk"]["S"], "ALL#2024031000");
    assert_eq!(
        items[2]["Update"]["Key"]["sk"]["S"],
        "M#008#purchase#2024031000"
    );
    assert_eq!(
        items[1]["Update"]["ExpressionAttributeValues"][":amount"]["N"],
        "12.5"
    );
}

#[tokio::test]
async fn a_lost_answer_is_retried_and_not_counted_twice() {
    // GIVEN an attempt that never answers (it may have landed), then DynamoDB's answer to a
    // repeated token: success without applying it again
    let (endpoint, seen) = fake_dynamodb(vec![Answer::Hang, Answer::Ok("{}")]).await;
    let store = store(&endpoint, 5).await;
    assert_eq!(
        store.commit_event(&record()).await.unwrap(),
        CommitOutcome::Processed
    );
    let tokens = tokens(&seen);
    assert_eq!(tokens.len(), 2);
    assert_eq!(
        tokens[0], tokens[1],
        "the retry carries the same idempotency token"
    );
}

#[tokio::test]
async fn a_spent_budget_is_unavailable_not_a_failure() {
    let conflicts = vec![cancelled(CONFLICT); 10];
    let (endpoint, seen) = fake_dynamodb(conflicts).await;
    let store = store(&endpoint, 4).await;
    let err = store.commit_event(&record()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_eq!(tokens(&seen).len(), 4, "exactly max_attempts attempts");
}

#[tokio::test]
async fn a_taken_key_is_a_duplicate_at_once() {
    let (endpoint, seen) = fake_dynamodb(vec![cancelled(TAKEN)]).await;
    let store = store(&endpoint, 10).await;
    assert_eq!(
        store.commit_event(&record()).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retried_duplicate_still_marks_the_failed_record() {
    let reasons = r#","CancellationReasons":[{"Code":"ConditionalCheckFailed"},{"Code":"None"},{"Code":"None"},{"Code":"None"}]"#;
    let (endpoint, seen) = fake_dynamodb(vec![cancelled(reasons), Answer::Ok("{}")]).await;
    let store = store(&endpoint, 10).await;
    let id = FailedId("1710028801000000000-3-00000000000000ab".to_owned());
    assert_eq!(
        store.commit_retry(&record(), &id).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].1["TransactItems"].as_array().unwrap().len(), 4);
    let (op, update) = &seen[1];
    assert_eq!(op, "updateitem");
    assert_eq!(update["Key"]["pk"]["S"], "T#default#F#3");
    assert_eq!(
        update["Key"]["sk"]["S"],
        format!("1710028801000000000#{}", id.0)
    );
    assert_eq!(
        update["ExpressionAttributeValues"][":retried"]["S"],
        "retried"
    );
    assert_eq!(
        update["ExpressionAttributeValues"][":ttl"]["N"],
        (1_710_028_801i64 + 30 * 86_400).to_string()
    );
}

#[tokio::test]
async fn a_bad_request_is_internal_and_not_retried() {
    let (endpoint, seen) = fake_dynamodb(vec![Answer::Error(400, "ValidationException", "")]).await;
    let store = store(&endpoint, 10).await;
    assert!(matches!(
        store.commit_event(&record()).await,
        Err(StoreError::Internal(_))
    ));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn throttled_reads_are_retried_too() {
    let (endpoint, seen) = fake_dynamodb(vec![
        Answer::Error(400, "ThrottlingException", ""),
        Answer::Ok("{}"),
    ])
    .await;
    let store = store(&endpoint, 10).await;
    let id = FailedId("1710028801000000000-0-00000000000000ab".to_owned());
    assert_eq!(store.get_failed(&id).await.unwrap(), None);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].1["ConsistentRead"], true);
}
