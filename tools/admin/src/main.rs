//! `admin`: creates tenants and their client patterns, and creates, lists and revokes their
//! API keys, in the table named by `TABLE_NAME` (with `AWS_ENDPOINT_URL` for LocalStack, the
//! usual AWS settings otherwise). A new key is printed once, alone on stdout; only its
//! SHA-256 is stored.
//!
//!   admin tenant put acme --clients 'acme-*,beta'
//!   admin tenant put acme --rate-per-second 100 --burst 500 --daily unlimited
//!   admin key create --tenant acme --label ci --expires-in-days 90
//!   admin key create --tenant acme --scopes ingest --clients acme-ios --label ios-app
//!   admin key list --tenant acme
//!   admin key revoke --tenant acme 3f2a1c9e0b7d

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use event_runtime::ApiKey;
use event_store::{
    ClientPatterns, DynamoStore, KeyState, Scopes, Store, StoreConfig, TenantId, TenantLimits,
};

#[derive(Parser)]
#[command(about = "Tenants and API keys of the event-ingest table (TABLE_NAME).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tenants and the client ids they own.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys of a tenant.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant, or replace its client patterns (its keys stay); set its limits.
    Put {
        name: String,
        #[command(flatten)]
        clients: ClientsArg,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// A tenant's client patterns and keys.
    Show { name: String },
}

#[derive(Args)]
struct ClientsArg {
    /// Client ids the tenant owns: exact names or prefixes, comma separated ('acme-*,beta').
    #[arg(long)]
    clients: Option<String>,
    /// Give the tenant every client id (`*`), for a development tenant.
    #[arg(long)]
    all_clients: bool,
}

/// What a new key may do: its scopes and, optionally, a subset of its tenant's clients.
#[derive(Args)]
struct GrantArg {
    /// Comma separated: ingest (POST /events), read (listings, failed records, aggregates),
    /// replay (retries of failed events). Default: all three.
    #[arg(long)]
    scopes: Option<String>,
    /// Narrow the key to these client patterns ('acme-ios,acme-web-*'), each inside the
    /// tenant's own; default: the tenant's clients.
    #[arg(long)]
    clients: Option<String>,
}

impl GrantArg {
    /// The key's scopes and narrowed clients, checked against `tenant`'s patterns.
    fn resolve(&self, tenant: &ClientPatterns) -> Result<(Scopes, Option<ClientPatterns>), String> {
        let scopes = match &self.scopes {
            None => Scopes::all(),
            Some(text) => Scopes::parse(text).map_err(|e| e.to_string())?,
        };
        let only = match &self.clients {
            None => None,
            Some(text) => {
                let narrow = ClientPatterns::parse(text, true).map_err(|e| e.to_string())?;
                Some(tenant.narrowed_to(narrow).map_err(|e| e.to_string())?)
            }
        };
        Ok((scopes, only))
    }
}

/// A tenant's limits, each a number, `unlimited` (or 0) for none, or `default` for the
/// deployment's default (the template's `Default*` parameters). Limits not given stay.
#[derive(Args)]
struct LimitArgs {
    /// Sustained events per second.
    #[arg(long, value_parser = limit_value)]
    rate_per_second: Option<Option<u64>>,
    /// Events at once, above the sustained rate.
    #[arg(long, value_parser = limit_value)]
    burst: Option<Option<u64>>,
    /// Events per UTC day.
    #[arg(long, value_parser = limit_value)]
    daily: Option<Option<u64>>,
    /// Requests per second to the read routes (listings, aggregates, usage).
    #[arg(long, value_parser = limit_value)]
    reads_per_second: Option<Option<u64>>,
}

impl LimitArgs {
    fn any(&self) -> bool {
        self.rate_per_second.is_some()
            || self.burst.is_some()
            || self.daily.is_some()
            || self.reads_per_second.is_some()
    }

    /// `current` with the limits given replaced.
    fn apply(&self, current: TenantLimits) -> TenantLimits {
        TenantLimits {
            rate_per_second: self.rate_per_second.unwrap_or(current.rate_per_second),
            burst: self.burst.unwrap_or(current.burst),
            daily: self.daily.unwrap_or(current.daily),
            reads_per_second: self.reads_per_second.unwrap_or(current.reads_per_second),
        }
    }
}

/// `N`, `unlimited` / `0` (stored as 0: no limit), or `default` (`None`: the deployment's).
fn limit_value(text: &str) -> Result<Option<u64>, String> {
    match text.trim() {
        "default" => Ok(None),
        "unlimited" => Ok(Some(0)),
        number => number.parse().map(Some).map_err(|_| {
            format!("{text:?} is not a limit: give a whole number, unlimited or default")
        }),
    }
}

fn limits_text(limits: &TenantLimits) -> String {
    let one = |value: Option<u64>, unit: &str| match value {
        None => "default".to_owned(),
        Some(0) => "unlimited".to_owned(),
        Some(n) => format!("{n}{unit}"),
    };
    format!(
        "rate {}, burst {}, daily {}, reads {}",
        one(limits.rate_per_second, "/s"),
        one(limits.burst, ""),
        one(limits.daily, ""),
        one(limits.reads_per_second, "/s")
    )
}

#[derive(Subcommand)]
enum KeyCommand {
    /// A new key for an existing tenant (`admin tenant put` makes one).
    Create {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        grant: GrantArg,
        /// What the key is for (listed, never secret).
        #[arg(long, default_value = "")]
        label: String,
        /// Refuse the key after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// The tenant's keys: id, state, created, expiry, scopes, clients, label (never the keys).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// The local development key: tenant `dev` owning every client id, with the key kept in
    /// FILE (made there once), registered again if the table lost it (a restarted LocalStack
    /// starts empty). Prints the key.
    Dev {
        file: std::path::PathBuf,
        /// The key's scopes, when it is made (`--scopes ingest`: the ingest-only development key).
        #[arg(long)]
        scopes: Option<String>,
    },
    /// Revoke a key by its id (from `key list`); functions stop accepting it within their
    /// key cache time (AUTH_CACHE_SECONDS, 60 s by default).
    Revoke {
        #[arg(long)]
        tenant: String,
        key_id: String,
    },
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn patterns(arg: &ClientsArg) -> Result<Option<ClientPatterns>, String> {
    match (&arg.clients, arg.all_clients) {
        (Some(_), true) => Err("give --clients or --all-clients, not both".to_owned()),
        (None, true) => Ok(Some(ClientPatterns::all())),
        (Some(text), false) => ClientPatterns::parse(text, false)
            .map(Some)
            .map_err(|e| e.to_string()),
        (None, false) => Ok(None),
    }
}

/// A key's scopes and clients as `key list` shows them: `scopes ingest  clients acme-ios`.
fn grant_text(key: &KeyState) -> String {
    let clients = key
        .only_clients
        .as_ref()
        .map_or_else(|| "the tenant's".to_owned(), ToString::to_string);
    format!("scopes {}  clients {clients}", key.scopes)
}

fn tenant_id(name: &str) -> Result<TenantId, String> {
    TenantId::parse(name).map_err(|e| e.to_string())
}

fn time_text(seconds: i64) -> String {
    event_core::EventTimestamp::from_unix_nanos(seconds.saturating_mul(1_000_000_000))
        .map_or_else(|| seconds.to_string(), |t| t.to_string())
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = StoreConfig::from_env().map_err(|e| e.to_string())?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(event_runtime::aws::https_client())
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config);
    let failed = |e: event_store::StoreError| e.to_string();
    match cli.command {
        Command::Tenant(TenantCommand::Put {
            name,
            clients,
            limits,
        }) => {
            let id = tenant_id(&name)?;
            match patterns(&clients)? {
                Some(clients) => {
                    store
                        .put_tenant(&id, &clients, now_seconds())
                        .await
                        .map_err(failed)?;
                    eprintln!("tenant {id} owns {clients}");
                }
                None if limits.any() => {}
                None => return Err("give --clients or --all-clients, or limits to set".into()),
            }
            if limits.any() {
                let current = store
                    .get_tenant(&id)
                    .await
                    .map_err(failed)?
                    .ok_or_else(|| format!("no tenant {id}: create it with --clients"))?;
                let new = limits.apply(current.limits);
                store.set_tenant_limits(&id, &new).await.map_err(failed)?;
                eprintln!(
                    "tenant {id} limits: {}; functions apply them within their key cache time",
                    limits_text(&new)
                );
            }
        }
        Command::Tenant(TenantCommand::Show { name })
        | Command::Key(KeyCommand::List { tenant: name }) => {
            let id = tenant_id(&name)?;
            let tenant = store
                .get_tenant(&id)
                .await
                .map_err(failed)?
                .ok_or_else(|| format!("no tenant {id}"))?;
            println!(
                "tenant {} owns {} (created {})",
                tenant.id,
                tenant.clients,
                time_text(tenant.created_at)
            );
            println!("limits: {}", limits_text(&tenant.limits));
            for (hash, key) in &tenant.keys {
                let expiry = key.expires_at.map_or("never".to_owned(), time_text);
                let state = if key.revoked {
                    "revoked"
                } else if key.is_usable_at(now_seconds()) {
                    "active"
                } else {
                    "expired"
                };
                println!(
                    "key {}  {state:<7}  created {}  expires {expiry}  {}  {}",
                    hash.id(),
                    time_text(key.created_at),
                    grant_text(key),
                    key.label
                );
            }
        }
        Command::Key(KeyCommand::Create {
            tenant,
            grant,
            label,
            expires_in_days,
        }) => {
            let id = tenant_id(&tenant)?;
            let now = now_seconds();
            let record = store
                .get_tenant(&id)
                .await
                .map_err(failed)?
                .ok_or_else(|| {
                    format!(
                        "no tenant {id}: create it first with `admin tenant put {id} --clients …`"
                    )
                })?;
            let (scopes, only_clients) = grant.resolve(&record.clients)?;
            let key = ApiKey::generate().map_err(|e| format!("no randomness: {e}"))?;
            let state = KeyState {
                expires_at: expires_in_days.map(|days| now + i64::from(days) * 86_400),
                scopes,
                only_clients,
                ..KeyState::new(label, now)
            };
            store
                .add_key(&id, &key.hash(), &state)
                .await
                .map_err(failed)?;
            eprintln!(
                "key {} for tenant {id} ({}); it is shown once, here:",
                key.hash().id(),
                grant_text(&state)
            );
            println!("{}", key.as_str());
        }
        Command::Key(KeyCommand::Dev { file, scopes }) => {
            let scopes = match scopes {
                None => Scopes::all(),
                Some(text) => Scopes::parse(&text).map_err(|e| e.to_string())?,
            };
            let id = tenant_id("dev")?;
            let saved = std::fs::read_to_string(&file).ok();
            let key = match saved.as_deref().map(str::trim).and_then(ApiKey::parse) {
                Some(key) => key,
                None => {
                    let key = ApiKey::generate().map_err(|e| format!("no randomness: {e}"))?;
                    std::fs::write(&file, format!("{}\n", key.as_str()))
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    key
                }
            };
            if store
                .tenant_of_key(&key.hash())
                .await
                .map_err(failed)?
                .as_ref()
                != Some(&id)
            {
                let now = now_seconds();
                store
                    .put_tenant(&id, &ClientPatterns::all(), now)
                    .await
                    .map_err(failed)?;
                let state = KeyState {
                    scopes,
                    ..KeyState::new(format!("local development ({scopes})"), now)
                };
                store
                    .add_key(&id, &key.hash(), &state)
                    .await
                    .map_err(failed)?;
            }
            // The development tenant is never limited, whatever the deployment's defaults.
            let unlimited = TenantLimits {
                rate_per_second: Some(0),
                burst: Some(0),
                daily: Some(0),
                reads_per_second: Some(0),
            };
            store
                .set_tenant_limits(&id, &unlimited)
                .await
                .map_err(failed)?;
            println!("{}", key.as_str());
        }
        Command::Key(KeyCommand::Revoke { tenant, key_id }) => {
            let id = tenant_id(&tenant)?;
            let record = store
                .get_tenant(&id)
                .await
                .map_err(failed)?
                .ok_or_else(|| format!("no tenant {id}"))?;
            let matching: Vec<_> = record
                .keys
                .keys()
                .filter(|hash| hash.id() == key_id)
                .collect();
            let [hash] = matching.as_slice() else {
                return Err(format!(
                    "tenant {id} has no key {key_id:?} (see `admin key list`)"
                ));
            };
            store.revoke_key(&id, hash).await.map_err(failed)?;
            eprintln!("key {key_id} of tenant {id} revoked; functions refuse it within their key cache time");
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("admin: {message}");
            ExitCode::FAILURE
        }
    }
}
