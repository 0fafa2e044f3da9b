//! A burst larger than the local emulator's queue is answered: 300 requests for one function
//! at once, then one more. `cargo lambda watch` 1.9.2 keeps at most 100 waiting requests per
//! function and, past that, stops answering every function until it restarts;
//! `scripts/devstack/front.py` on the API port holds what is past its limit (why: that file's
//! docstring). Without it this test hangs until its requests time out, and so does the stack.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use integration_tests::{Api, StatusCode};
use reqwest::Method;

const BURST: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_emulators_queue_is_answered() {
    let api = Arc::new(Api::new());
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..BURST {
        let api = api.clone();
        burst.spawn(async move {
            api.request(Method::GET, "/events/processed?limit=1")
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .map(|response| response.status())
        });
    }
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(outcome) = burst.join_next().await {
        let answer = match outcome.expect("task") {
            Ok(status) => status.to_string(),
            Err(error) if error.is_timeout() => "no answer within 60 s".to_owned(),
            Err(error) => format!("connection error: {error}"),
        };
        *answers.entry(answer).or_default() += 1;
    }
    assert_eq!(
        answers,
        BTreeMap::from([(StatusCode::OK.to_string(), BURST)]),
        "every request of the burst answered 200"
    );

    let after = api.get("/aggregates?client_id=burst-after").await;
    assert_eq!(
        after.status,
        StatusCode::OK,
        "the stack still answers after the burst"
    );
}
