//! Harness for the end-to-end tests: finds the running local stack, or starts it.
//!
//! `BASE_URL` in the environment points at a running stack (`make test` sets it). Without
//! it the harness runs `scripts/stack.py up`, which reuses a stack that is already up or
//! starts LocalStack, deploys the template and serves the functions on free ports; stop
//! it with `make down` (`make itest` and `make test` stop what they started).
//! `launcher` serves second copies of the functions with DynamoDB behind a `fault_proxy` or
//! unreachable; `reliability` is the harness of `tests/reliability.rs`.
//!
//! Every request carries an API key: `Api::new()` uses a tenant of the harness's own that
//! owns every client id (created once per test binary in the stack's table); `new_tenant`
//! makes tenants with narrower client patterns, as `tools/admin` does.

pub mod fault_proxy;
pub mod launcher;
pub mod reliability;
pub mod report;
pub mod retry_log;

use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{Credentials, Region};
use event_runtime::ApiKey;
use event_store::{
    ClientPatterns, DynamoStore, KeyState, Scopes, Store, StoreConfig, TenantId, TenantLimits,
};
use serde_json::Value;
use tokio::sync::Semaphore;

pub use reqwest::StatusCode;

/// The repository's root (this crate is `tests/integration`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The stack under test: `BASE_URL`, else `.local/api.env`'s.
pub fn base_url() -> &'static str {
    static BASE_URL: OnceLock<String> = OnceLock::new();
    BASE_URL.get_or_init(|| {
        if let Ok(url) = std::env::var("BASE_URL") {
            return url.trim_end_matches('/').to_owned();
        }
        let root = repo_root();
        let status = outside_cargo(Command::new(root.join("scripts/stack.py")).arg("up"))
            .status()
            .expect("run scripts/stack.py up");
        assert!(status.success(), "scripts/stack.py up failed");
        let env =
            std::fs::read_to_string(root.join(".local/api.env")).expect("read .local/api.env");
        env.lines()
            .find_map(|line| line.strip_prefix("BASE_URL="))
            .expect("BASE_URL in .local/api.env")
            .trim()
            .to_owned()
    })
}

/// The base URL of the main local stack (auth on, no faults).
pub fn stack_base_url() -> String {
    base_url().to_owned()
}

/// A client of the main local stack sending `key`.
pub fn stack_api(key: &str) -> Api {
    Api::at(base_url()).with_key(Some(key))
}

/// The local stack's settings: `.local/stack.env` (written when the stack starts), overridden
/// by the process environment (`make test` exports the same file).
pub fn stack_setting(name: &str) -> Option<String> {
    static FILE: OnceLock<HashMap<String, String>> = OnceLock::new();
    if let Some(value) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
        return Some(value);
    }
    let file = FILE.get_or_init(|| {
        base_url(); // the stack is up, so its env file exists
        let text = std::fs::read_to_string(repo_root().join(".local/stack.env"))
            .expect("read .local/stack.env");
        text.lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    });
    file.get(name).cloned()
}

/// An SDK client for the stack's DynamoDB (LocalStack).
pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let endpoint = stack_setting("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL of the stack");
    let region = stack_setting("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    let id = stack_setting("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".to_owned());
    let secret = stack_setting("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".to_owned());
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(Region::new(region))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(id, secret, None, None, "stack.env"))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// The stack's table settings (`TABLE_NAME`, shard counts) as the functions read them.
pub fn stack_store_config() -> StoreConfig {
    StoreConfig::from_lookup(stack_setting).expect("the stack's store settings")
}

/// A new tenant `{prefix}-{random}` owning `clients` (`*` allowed), with one key, in the
/// stack's table, without limits (whatever the deployment's defaults): returns (tenant, key).
pub async fn new_tenant(prefix: &str, clients: &str) -> (String, String) {
    let unlimited = TenantLimits {
        rate_per_second: Some(0),
        burst: Some(0),
        daily: Some(0),
        reads_per_second: Some(0),
    };
    new_limited_tenant(prefix, clients, unlimited).await
}

/// Like `new_tenant`, with `limits`.
pub async fn new_limited_tenant(
    prefix: &str,
    clients: &str,
    limits: TenantLimits,
) -> (String, String) {
    let store = DynamoStore::new(dynamo_client().await, stack_store_config());
    let tenant = TenantId::parse(&format!("{prefix}-{:08x}", fastrand::u32(..))).expect("name");
    let clients = ClientPatterns::parse(clients, true).expect("client patterns");
    let now = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970"))
    .as_secs() as i64;
    store
        .put_tenant(&tenant, &clients, now)
        .await
        .expect("put tenant");
    store
        .set_tenant_limits(&tenant, &limits)
        .await
        .expect("set tenant limits");
    let key = ApiKey::generate().expect("randomness");
    let state = KeyState::new("e2e", now);
    store
        .add_key(&tenant, &key.hash(), &state)
        .await
        .expect("add key");
    (tenant.to_string(), key.as_str().to_owned())
}

/// Another key of `tenant` (from `new_tenant`) with these scopes (`ingest,read`) and, when
/// given, narrowed to these client patterns: returns the key.
pub async fn new_scoped_key(tenant: &str, scopes: &str, only_clients: Option<&str>) -> String {
    let store = DynamoStore::new(dynamo_client().await, stack_store_config());
    let tenant = TenantId::parse(tenant).expect("name");
    let key = ApiKey::generate().expect("randomness");
    let state = KeyState {
        scopes: Scopes::parse(scopes).expect("scopes"),
        only_clients: only_clients.map(|text| ClientPatterns::parse(text, true).expect("patterns")),
        ..KeyState::new("e2e scoped", 0)
    };
    store
        .add_key(&tenant, &key.hash(), &state)
        .await
        .expect("add key");
    key.as_str().to_owned()
}

/// The key of the harness's tenant that owns every client id (made once per test binary,
/// on a thread of its own: each test has its own runtime).
fn harness_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(new_tenant("e2e", "*"))
                .1
        })
        .join()
        .expect("create the harness tenant")
    })
}

/// Requests in flight across all tests of one binary: `cargo lambda watch` 1.9.2 queues at
/// most 100 requests per function and stops answering altogether when that queue is full (it
/// awaits the full queue while holding the lock every poll needs). The stack's API port holds
/// back what is past 64 (scripts/devstack/front.py), but the functions a test starts for
/// itself (`launcher`) run without it, so the tests keep well below that.
static IN_FLIGHT: Semaphore = Semaphore::const_new(32);

/// A client of the service under test. Create one per test: each test has its own runtime.
pub struct Api {
    http: reqwest::Client,
    base: String,
    /// Sent as `x-api-key`; `None` sends no key.
    key: Option<String>,
}

/// A response: status, headers we look at, and the JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Api {
    /// A client of the local stack with the key of a tenant owning every client id.
    pub fn new() -> Self {
        Self::at(base_url()).with_key(Some(harness_key()))
    }

    /// A client of the functions served at `base` (`http://host:port`), without a key.
    pub fn at(base: &str) -> Self {
        Api {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()
                .expect("http client"),
            base: base.to_owned(),
            key: None,
        }
    }

    /// The same client sending `key` (or none).
    pub fn with_key(self, key: Option<&str>) -> Self {
        Api {
            key: key.map(str::to_owned),
            ..self
        }
    }

    /// A request to send yourself, past the in-flight limit every other method keeps (for a
    /// test of the stack's own limits).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request = self
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body);
        Self::send(request).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, body.to_string()).await
    }

    /// Only the status of `method path` (the body may not be the service's: an unknown
    /// method never reaches a function).
    pub async fn status_of(&self, method: reqwest::Method, path: &str) -> StatusCode {
        self.request(method, path)
            .send()
            .await
            .expect("request reaches the service")
            .status()
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        Self::send(self.request(reqwest::Method::GET, path_and_query)).await
    }

    /// One request answered as it came: the status and the body's bytes, or the transport
    /// error (no JSON parsing: a test that checks answers are whole looks at the bytes).
    pub async fn fetch(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(StatusCode, Vec<u8>), reqwest::Error> {
        let _permit = IN_FLIGHT.acquire().await.expect("semaphore never closes");
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    async fn send(request: reqwest::RequestBuilder) -> Reply {
        let _permit = IN_FLIGHT.acquire().await.expect("semaphore never closes");
        let response = request.send().await.expect("request reaches the service");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "body is not JSON ({status}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status,
            retry_after,
            body,
        }
    }
}

/// The local emulator's own 500, a problem document (`{"type":"https://httpstatuses.com/500",
/// …}`) that the service never answers (its errors carry `{"error": …}`): `cargo lambda
/// watch` answers it when it loses a function's answer (scripts/devstack/respawn.py prevents
/// that; `tests/large_answers.rs` proves it). The one place that recognises it, so a test
/// that meets it can say so; nothing resends on it.
pub fn is_emulator_500(status: u16, body: &Value) -> bool {
    status == 500
        && body.get("error").is_none()
        && body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://httpstatuses.com/"))
}

impl Default for Api {
    fn default() -> Self {
        Self::new()
    }
}

/// A client id no other test (or earlier run) uses, so tests never see each other's events.
pub fn unique_client(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("{prefix}-{nanos}-{}", fastrand::u32(..))
}

/// Percent-encode a query value (timestamps carry `+` and `:`).
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Assert the error body: `{"error":{"code","message","request_id",...}}`.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "status, body: {}",
        reply.body
    );
    let error = &reply.body["error"];
    assert_eq!(error["code"], code, "error code, body: {}", reply.body);
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a human message: {}",
        reply.body
    );
    assert!(
        error["request_id"].as_str().is_some_and(|m| !m.is_empty()),
        "a request id: {}",
        reply.body
    );
}

/// An exact decimal string (as the service returns amounts) in units of 10^-9.
pub fn nano_units(decimal: &str) -> i128 {
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(
        fraction.len() <= 9,
        "at most 9 fractional digits: {decimal}"
    );
    let padded = format!("{fraction:0<9}");
    let value = whole.parse::<i128>().expect("whole part") * 1_000_000_000
        + padded.parse::<i128>().expect("fraction");
    if negative {
        -value
    } else {
        value
    }
}

/// `cmd` without the variables cargo sets for the test binary (`CARGO_PKG_NAME`,
/// `CARGO_MANIFEST_DIR`, ...): build scripts watch some of them, so the watcher's `cargo run`
/// would rebuild half the dependencies, and the next run outside the tests rebuild them back.
fn outside_cargo(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_by_cargo = name == "CARGO"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_by_cargo {
            cmd.env_remove(name);
        }
    }
    cmd
}
