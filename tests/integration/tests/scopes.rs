//! Key scopes over real HTTP, on every route of every function (a table): a key answers only
//! the routes of its scopes; every other route is 403 `forbidden_scope`, never a 5xx, never
//! data, and writes nothing. A key narrowed to some of its tenant's clients writes and reads
//! only those. And CORS as a browser meets it: only `POST /events` and its preflight answer
//! the stack's allowed origins (`ALLOWED_ORIGINS` of .local/stack.env), without credentials.

use integration_tests::{
    assert_error, new_scoped_key, new_tenant, stack_base_url, stack_setting, unique_client, Api,
    StatusCode,
};
use reqwest::Method;
use serde_json::{json, Value};

/// A tenant owning `{client}-*`, with a processed and a kept failed event of `{client}-web`.
struct Fixture {
    tenant: String,
    full: Api,
    client: String,
    failed_id: String,
}

async fn fixture() -> Fixture {
    let prefix = unique_client("sc");
    let (tenant, key) = new_tenant("scopes", &format!("{prefix}-*")).await;
    let full = Api::new().with_key(Some(&key));
    let client = format!("{prefix}-web");
    let event =
        json!({"client_id": client, "payload": {"amount": 1, "timestamp": "2026-11-20T01:00:00Z"}});
    assert_eq!(
        full.post("/events", &event).await.status,
        StatusCode::CREATED
    );
    let failing = json!({"client_id": client, "simulateFailure": true,
        "payload": {"timestamp": "2026-11-20T02:00:00Z"}});
    let kept = full.post("/events", &failing).await;
    assert_eq!(
        kept.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        kept.body
    );
    let f = Fixture {
        failed_id: kept.body["failed_id"].as_str().unwrap().to_owned(),
        tenant,
        full,
        client,
    };
    // listings without client_id read an index that may lag by about a second: wait until
    // both records show, so a later difference is a write of the call under test
    for _ in 0..100 {
        let (processed, failed, _) = holdings(&f).await;
        if processed.as_array().map(Vec::len) == Some(1)
            && failed.as_array().map(Vec::len) == Some(1)
        {
            return f;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the fixture's events never showed in the listings");
}

/// What the tenant holds, read with its full key: processed events, failed records (and
/// their state), the client's count.
async fn holdings(f: &Fixture) -> (Value, Value, Value) {
    let processed = f.full.get("/events/processed?limit=100").await.body["items"].clone();
    let failed = f.full.get("/events/failed?limit=100").await.body["items"].clone();
    let count = f
        .full
        .get(&format!("/aggregates?client_id={}", f.client))
        .await
        .body["count"]
        .clone();
    (processed, failed, count)
}

/// Every keyed route: (method, path, body, scope it needs).
fn routes(f: &Fixture) -> Vec<(Method, String, Option<Value>, &'static str)> {
    let c = &f.client;
    let event =
        json!({"client_id": c, "payload": {"amount": 5, "timestamp": "2026-11-20T03:00:00Z"}});
    vec![
        (Method::POST, "/events".into(), Some(event.clone()), "ingest"),
        (Method::POST, "/events".into(), Some(json!({"events": [event]})), "ingest"),
        (Method::POST, format!("/events/failed/{}/retry", f.failed_id), None, "replay"),
        (Method::POST, "/events/failed/retry".into(), Some(json!({"client_id": c})), "replay"),
        (Method::GET, format!("/events/processed?client_id={c}"), None, "read"),
        (Method::GET, "/events/failed".into(), None, "read"),
        (Method::GET, format!("/events/failed/{}", f.failed_id), None, "read"),
        (Method::GET, format!("/aggregates?client_id={c}"), None, "read"),
        (
            Method::GET,
            format!("/aggregates/hourly?client_id={c}&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"),
            None,
            "read",
        ),
        (Method::GET, "/usage".into(), None, "read"),
    ]
}

#[tokio::test]
async fn every_route_answers_only_keys_with_its_scope_and_refusals_write_and_show_nothing() {
    let f = fixture().await;
    for scopes in ["ingest", "read", "replay"] {
        let key = new_scoped_key(&f.tenant, scopes, None).await;
        let api = Api::new().with_key(Some(&key));
        for (method, path, body, needs) in routes(&f) {
            if scopes == needs {
                continue; // allowed: the refused ones are what this table is about
            }
            let before = holdings(&f).await;
            let (status, bytes) = api
                .fetch(method.clone(), &path, body.as_ref().map(Value::to_string))
                .await
                .expect("an answer");
            let reply: Value = serde_json::from_slice(&bytes).expect("a JSON body");
            let case = format!("{method} {path} with a key of {scopes}: {status} {reply}");
            assert_eq!(status, StatusCode::FORBIDDEN, "{case}");
            assert_eq!(reply["error"]["code"], "forbidden_scope", "{case}");
            assert!(
                reply["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("the {needs} scope")),
                "{case}"
            );
            assert_eq!(
                reply.as_object().unwrap().len(),
                1,
                "{case}: only the error"
            );
            assert_eq!(holdings(&f).await, before, "{case}: nothing written");
        }
    }
    // and each scope's own routes answer (after the refusals: the retries settle the record)
    for (method, path, body, needs) in routes(&f) {
        let key = new_scoped_key(&f.tenant, needs, None).await;
        let (status, bytes) = Api::new()
            .with_key(Some(&key))
            .fetch(method.clone(), &path, body.as_ref().map(Value::to_string))
            .await
            .expect("an answer");
        assert!(
            status.is_success(),
            "{method} {path} with a key of {needs}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[tokio::test]
async fn a_narrowed_key_sends_and_reads_only_its_clients() {
    let f = fixture().await;
    let ios = f.client.replace("-web", "-ios");
    let key = new_scoped_key(&f.tenant, "ingest,read", Some(&ios)).await;
    let api = Api::new().with_key(Some(&key));

    let web_event =
        json!({"client_id": f.client, "payload": {"timestamp": "2026-11-20T04:00:00Z"}});
    let before = holdings(&f).await;
    assert_error(
        &api.post("/events", &web_event).await,
        403,
        "client_not_allowed",
    );
    assert_eq!(holdings(&f).await, before, "nothing written");

    let ios_event = json!({"client_id": ios, "payload": {"timestamp": "2026-11-20T04:00:00Z"}});
    assert_eq!(
        api.post("/events", &ios_event).await.status,
        StatusCode::CREATED
    );
    let listed = api.get("/events/processed?limit=100").await;
    let clients: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(clients, [ios.as_str()], "{}", listed.body);
    assert_error(
        &api.get(&format!("/aggregates?client_id={}", f.client))
            .await,
        403,
        "client_not_allowed",
    );
}

// ------------------------------------------------------------------ CORS

/// An allowed origin of the stack (the first of `ALLOWED_ORIGINS`).
fn allowed_origin() -> String {
    let origins = stack_setting("ALLOWED_ORIGINS").unwrap_or_default();
    let first = origins.split(',').next().unwrap_or("").trim().to_owned();
    assert!(
        first.starts_with("http"),
        "the local stack allows browser origins (ALLOWED_ORIGINS in .local/stack.env)"
    );
    first
}

fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn only_post_events_answers_allowed_origins_and_never_with_credentials() {
    let origin = allowed_origin();
    let http = reqwest::Client::new();
    let base = stack_base_url();
    let preflight = |origin: &str, path: &str| {
        http.request(Method::OPTIONS, format!("{base}{path}"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-api-key")
            .send()
    };

    let allowed = preflight(&origin, "/events").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], origin.as_str());
    assert_eq!(h["access-control-allow-headers"], "content-type, x-api-key");
    assert!(h.get("access-control-allow-credentials").is_none());

    let other = preflight("http://not-allowed.example", "/events")
        .await
        .unwrap();
    assert_eq!(
        cors_headers(&other),
        Vec::<String>::new(),
        "the emulator's own CORS is off"
    );

    // no other route answers a browser's preflight with CORS headers
    let listing = preflight(&origin, "/events/processed").await.unwrap();
    assert_eq!(cors_headers(&listing), Vec::<String>::new());

    let f = fixture().await;
    let ingest_only = new_scoped_key(&f.tenant, "ingest", None).await;
    let post = http
        .post(format!("{base}/events"))
        .header("origin", &origin)
        .header("x-api-key", &ingest_only)
        .header("content-type", "application/json")
        .body(
            json!({"client_id": f.client, "payload": {"timestamp": "2026-11-20T06:00:00Z"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::CREATED);
    assert_eq!(
        post.headers()["access-control-allow-origin"],
        origin.as_str()
    );
    assert!(post
        .headers()
        .get("access-control-allow-credentials")
        .is_none());

    let read = http
        .get(format!("{base}/events/processed"))
        .header("origin", &origin)
        .header("x-api-key", &ingest_only)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        cors_headers(&read),
        Vec::<String>::new(),
        "a page cannot even read the refusal"
    );
}
