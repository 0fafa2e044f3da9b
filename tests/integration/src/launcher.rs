//! Second copies of the stack's functions, each under a `cargo lambda watch` of its own with
//! DynamoDB somewhere else: through a `FaultProxy` (`ProxiedFunctions`) or at a port where
//! nothing listens (`StorageDown`).
//!
//! `ProxiedFunctions` serves them for a tenant made for the test with `new_tenant`, with keys
//! on as deployed: key and tenant lookups go through the faults too. What the functions wrote
//! can be read back through the main stack (no faults) with that tenant's key.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use super::fault_proxy::{FaultPlan, FaultProxy};
use super::retry_log::RetryLog;
use super::{base_url, new_tenant, outside_cargo, repo_root, stack_api, Api, StatusCode};

/// The functions under a second `cargo lambda watch` whose DynamoDB is reached through a
/// `FaultProxy`, serving tenant `tenant` (its key `key`). Stopped when dropped.
pub struct ProxiedFunctions {
    watch: Watch,
    pub proxy: FaultProxy,
    /// `http://127.0.0.1:port` of the proxied functions.
    pub base: String,
    /// The tenant they serve, and a key of it for the main stack (to read back without faults).
    pub tenant: String,
    pub key: String,
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
        let endpoint = stack_env()
            .lines()
            .find_map(|line| line.strip_prefix("AWS_ENDPOINT_URL="))
            .expect("AWS_ENDPOINT_URL in .local/stack.env")
            .trim()
            .to_owned();
        let proxy = FaultProxy::start(&endpoint, plan);
        let settings: Vec<String> = [
            "AUTH=on".to_owned(),
            // quoted: the env file parser refuses a second `=` in a bare value
            "RUST_LOG=\"info,event_store::dynamo::retry=debug\"".to_owned(),
        ]
        .into_iter()
        .chain(settings.iter().cloned())
        .collect();
        let mut watch = Watch::spawn(name, &proxy.endpoint(), &["TENANT"], &settings, |cmd| {
            cmd.args(["--concurrency", &concurrency.max(1).to_string()]);
        });
        let probes = [
            (reqwest::Method::GET, "/aggregates"),
            (reqwest::Method::GET, "/events/processed?limit=0"),
            (reqwest::Method::POST, "/events"),
        ];
        watch.wait_until_serving(Some(&key), &probes).await;
        ProxiedFunctions {
            base: watch.base.clone(),
            watch,
            proxy,
            tenant,
            key,
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
        RetryLog::parse(&std::fs::read_to_string(&self.watch.log).unwrap_or_default())
    }
}

/// The same functions under a second `cargo lambda watch`, with DynamoDB pointed at a port
/// where nothing listens: a storage outage for real, over HTTP. Stopped when dropped. Its
/// functions run with `AUTH=off`, so what meets the outage is the request's own work, not
/// the key lookup (which would answer the same 503).
pub struct StorageDown {
    _watch: Watch,
    pub api: Api,
}

impl StorageDown {
    pub async fn start() -> Self {
        base_url(); // the main stack is up, so .local/stack.env exists and the functions compiled
        let dead_endpoint = format!("http://127.0.0.1:{}", free_port());
        let settings = ["AUTH=off".to_owned()];
        let mut watch = Watch::spawn("storage-down", &dead_endpoint, &[], &settings, |_| {});
        // ready once a request that needs no storage gets the function's own 400
        watch
            .wait_until_serving(None, &[(reqwest::Method::GET, "/aggregates")])
            .await;
        StorageDown {
            api: Api::at(&watch.base),
            _watch: watch,
        }
    }
}

/// One `cargo lambda watch` of the stack's functions with settings of its own, in its own
/// process group; stopped with its function instances when dropped.
struct Watch {
    child: Child,
    /// `http://127.0.0.1:port`
    base: String,
    /// `.local/{name}-watch.log`: what the watcher and the functions printed.
    log: PathBuf,
}

impl Watch {
    /// Serves the functions with `.local/{name}.env`: the stack's settings, DynamoDB at
    /// `endpoint`, without the stack's `unset` ones, and `settings` (`NAME=value`) in place of
    /// the stack's own; `configure` adds to the command.
    fn spawn(
        name: &str,
        endpoint: &str,
        unset: &[&str],
        settings: &[String],
        configure: impl FnOnce(&mut Command),
    ) -> Self {
        let root = repo_root();
        let local = root.join(".local");
        let replaced = |line: &str| {
            unset
                .iter()
                .copied()
                .chain(settings.iter().filter_map(|s| Some(s.split_once('=')?.0)))
                .any(|name| line.starts_with(&format!("{name}=")))
        };
        let env: String = stack_env()
            .lines()
            .filter(|line| !replaced(line))
            .map(|line| match line.starts_with("AWS_ENDPOINT_URL=") {
                true => format!("AWS_ENDPOINT_URL={endpoint}\n"),
                false => format!("{line}\n"),
            })
            .chain(settings.iter().map(|setting| format!("{setting}\n")))
            .collect();
        let env_file = local.join(format!("{name}.env"));
        std::fs::write(&env_file, env).expect("write the functions' env file");
        let port = free_port();
        let log = local.join(format!("{name}-watch.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = watch_command();
        cmd.args(["-P", &port.to_string()]);
        configure(&mut cmd);
        let child = cmd
            .arg("--env-file")
            .arg(&env_file)
            .current_dir(&root)
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            // its own process group, so `Drop` stops the function instances with it
            .process_group(0)
            .spawn()
            .expect("start cargo lambda watch (installed by scripts/stack.py tools)");
        Watch {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Every function answers a request that needs no storage (sent with `key`) with its own
    /// 400: one probe per function.
    async fn wait_until_serving(&mut self, key: Option<&str>, probes: &[(reqwest::Method, &str)]) {
        let http = reqwest::Client::new();
        for (method, path) in probes {
            let mut ready = false;
            for _ in 0..600 {
                let mut request = http
                    .request(method.clone(), format!("{}{path}", self.base))
                    .body("not json");
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
                if request
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::BAD_REQUEST)
                {
                    ready = true;
                    break;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    panic!("cargo lambda watch exited ({status}): {log}");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            assert!(
                ready,
                "the functions did not start; see {}",
                self.log.display()
            );
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        stop_process_group(&mut self.child);
    }
}

/// `.local/stack.env`, written when the main stack started.
fn stack_env() -> String {
    std::fs::read_to_string(repo_root().join(".local/stack.env")).expect(".local/stack.env")
}

/// Stops a watcher started in its own process group, with its function instances: TERM, then
/// KILL after 5 s. Through bash's own `kill`: a bare machine may lack /usr/bin/kill (procps).
fn stop_process_group(child: &mut Child) {
    let group = child.id();
    let signal_group = |signal: &str| {
        let script = format!("kill -{signal} -- -{group}");
        let _ = Command::new("bash").args(["-c", &script]).status();
    };
    signal_group("TERM");
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal_group("KILL");
    let _ = child.wait();
}

/// `cargo lambda watch` without reload on 127.0.0.1, as the stack scripts run it: from outside
/// cargo's test environment, and with scripts/devstack/respawn.py as cargo's runner so a
/// function process that dies is replaced (see that script).
fn watch_command() -> Command {
    let mut cmd = Command::new(repo_root().join(".local/tools/bin/cargo-lambda"));
    outside_cargo(&mut cmd)
        .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1"])
        .env(
            format!(
                "CARGO_TARGET_{}_UNKNOWN_LINUX_GNU_RUNNER",
                std::env::consts::ARCH.to_uppercase()
            ),
            repo_root().join("scripts/devstack/respawn.py"),
        );
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
