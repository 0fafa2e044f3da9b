//! Settings read from the environment once, at cold start, into a typed struct.

use std::time::Duration;

use event_http::AllowedOrigins;
use event_store::StoreConfig;

use crate::auth::AuthConfig;
use crate::limiter::LimitDefaults;

/// Everything a function is told by its deployment. Built once per cold start: a bad
/// setting stops the function before it answers anything, rather than on some request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TABLE_NAME` (required), `TENANT` (default `default`), `EVENT_SHARDS` and
    /// `AGGREGATE_SHARDS` (default 4): read by event-store, the one owner of those rules.
    pub store: StoreConfig,
    /// `ALLOW_SIMULATED_FAILURE`: unset means false, so a deployment that forgets the
    /// setting cannot be made to fill its failed records on purpose; the local stack and
    /// test environments set it (the template's `AllowSimulatedFailure`, default false).
    pub allow_simulated_failure: bool,
    /// `REQUEST_DEADLINE_MS`, default 20000: every request answers within this (or within
    /// the Lambda invocation's own deadline less a second, when that comes first), whatever
    /// storage does; below the functions' 25 s timeout and API Gateway's 29 s, so a slow
    /// request still gets a typed answer that says what to resend.
    pub request_deadline: Duration,
    /// `BATCH_CONCURRENCY`, default 16: commits in flight at once for one batch.
    pub batch_concurrency: usize,
    /// `AUTH` (on, the default; off only for local experiments) and `AUTH_CACHE_SECONDS`
    /// (default 60).
    pub auth: AuthConfig,
    /// `ALLOWED_ORIGINS` (the template's `AllowedOrigins`): browser origins that may call
    /// `POST /events` (comma separated, `*` for any); unset, none (`event_http::cors`).
    pub allowed_origins: AllowedOrigins,
    /// The limits of tenants that set none of their own (`DEFAULT_RATE_PER_SECOND`,
    /// `DEFAULT_BURST`, `DEFAULT_DAILY_QUOTA`, `DEFAULT_READS_PER_SECOND`; unset or 0: none).
    /// The template sets them from its `Default*` parameters.
    pub limits: LimitDefaults,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Store(#[from] event_store::ConfigError),
    #[error("setting {name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl Default for Config {
    /// What `from_env` gives when only `TABLE_NAME=events` is set: every default is the safe
    /// one for production (auth on, `simulateFailure` refused).
    fn default() -> Self {
        Config {
            store: StoreConfig::new("events"),
            allow_simulated_failure: false,
            request_deadline: Duration::from_millis(20_000),
            batch_concurrency: 16,
            auth: AuthConfig::default(),
            allowed_origins: AllowedOrigins::None,
            limits: LimitDefaults::default(),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `from_env` over any lookup, so the parsing is tested without touching the process
    /// environment (which tests running in parallel share).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let store = StoreConfig::from_lookup(&get)?;
        // An empty setting is treated as unset: templates often pass "" for "no value".
        let get = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        let defaults = Config::default();
        Ok(Config {
            store,
            allow_simulated_failure: parse_bool(
                "ALLOW_SIMULATED_FAILURE",
                get("ALLOW_SIMULATED_FAILURE"),
                defaults.allow_simulated_failure,
            )?,
            request_deadline: Duration::from_millis(u64::from(parse_count(
                "REQUEST_DEADLINE_MS",
                get("REQUEST_DEADLINE_MS"),
                20_000,
            )?)),
            batch_concurrency: parse_count("BATCH_CONCURRENCY", get("BATCH_CONCURRENCY"), 16)?
                as usize,
            auth: AuthConfig {
                enabled: parse_bool("AUTH", get("AUTH"), true)?,
                cache_ttl: match get("AUTH_CACHE_SECONDS") {
                    None => defaults.auth.cache_ttl,
                    Some(text) => match text.trim().parse::<u32>() {
                        Ok(seconds) => Duration::from_secs(u64::from(seconds)),
                        Err(_) => {
                            return Err(ConfigError::Invalid {
                                name: "AUTH_CACHE_SECONDS",
                                value: text,
                                expected: "a whole number of seconds (0: no cache)",
                            })
                        }
                    },
                },
            },
            allowed_origins: match get("ALLOWED_ORIGINS") {
                None => AllowedOrigins::None,
                Some(text) => AllowedOrigins::parse(&text).map_err(|_| ConfigError::Invalid {
                    name: "ALLOWED_ORIGINS",
                    value: text,
                    expected: "origins such as https://app.example.com, comma separated, or *",
                })?,
            },
            limits: LimitDefaults {
                rate_per_second: parse_limit(
                    "DEFAULT_RATE_PER_SECOND",
                    get("DEFAULT_RATE_PER_SECOND"),
                )?,
                burst: parse_limit("DEFAULT_BURST", get("DEFAULT_BURST"))?,
                daily: parse_limit("DEFAULT_DAILY_QUOTA", get("DEFAULT_DAILY_QUOTA"))?,
                reads_per_second: parse_limit(
                    "DEFAULT_READS_PER_SECOND",
                    get("DEFAULT_READS_PER_SECOND"),
                )?,
            },
        })
    }
}

/// A limit: a whole number, 0 or `unlimited` for none (also when unset).
fn parse_limit(name: &'static str, value: Option<String>) -> Result<u64, ConfigError> {
    let Some(value) = value else {
        return Ok(0);
    };
    let text = value.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(0);
    }
    text.parse::<u64>().map_err(|_| ConfigError::Invalid {
        name,
        value,
        expected: "a whole number (0 or unlimited: no limit)",
    })
}

/// A positive integer (a shard count, a concurrency or a number of milliseconds).
fn parse_count(
    name: &'static str,
    value: Option<String>,
    default: u32,
) -> Result<u32, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            value,
            expected: "a whole number of at least 1",
        }),
    }
}

fn parse_bool(
    name: &'static str,
    value: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            name,
            value,
            expected: "true or false",
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A lookup over fixed pairs, in place of the process environment (also aws.rs's tests).
    pub(crate) fn lookup(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn given_only_a_table_name_when_read_then_the_safe_defaults_apply() {
        let config = Config::from_lookup(lookup(&[("TABLE_NAME", "events")])).unwrap();
        assert_eq!(config, Config::default());
        assert!(config.auth.enabled, "keys are on unless AUTH says off");
        assert!(
            !config.allow_simulated_failure,
            "simulateFailure is refused unless ALLOW_SIMULATED_FAILURE says true"
        );
    }

    #[test]
    fn given_every_setting_when_read_then_each_is_used() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t1"),
            ("TENANT", "acme"),
            ("EVENT_SHARDS", "8"),
            ("AGGREGATE_SHARDS", "2"),
            ("ALLOW_SIMULATED_FAILURE", "true"),
            ("REQUEST_DEADLINE_MS", "1500"),
            ("BATCH_CONCURRENCY", "4"),
            ("AUTH", "off"),
            ("AUTH_CACHE_SECONDS", "0"),
            ("ALLOWED_ORIGINS", "https://app.example.com"),
            ("DEFAULT_RATE_PER_SECOND", "100"),
            ("DEFAULT_BURST", "500"),
            ("DEFAULT_DAILY_QUOTA", "unlimited"),
            ("DEFAULT_READS_PER_SECOND", "20"),
        ]))
        .unwrap();
        assert_eq!(
            config.limits,
            LimitDefaults {
                rate_per_second: 100,
                burst: 500,
                daily: 0,
                reads_per_second: 20
            }
        );
        assert_eq!(
            config.allowed_origins,
            AllowedOrigins::List(vec!["https://app.example.com".to_owned()])
        );
        assert!(!config.auth.enabled);
        assert_eq!(config.auth.cache_ttl, Duration::ZERO);
        assert_eq!(config.store.table_name, "t1");
        assert_eq!(config.store.tenant, "acme");
        assert_eq!(config.store.event_shards, 8);
        assert_eq!(config.store.aggregate_shards, 2);
        assert!(config.allow_simulated_failure);
        assert_eq!(config.request_deadline, Duration::from_millis(1500));
        assert_eq!(config.batch_concurrency, 4);
    }

    #[test]
    fn given_no_table_name_when_read_then_it_is_reported_missing() {
        assert_eq!(
            Config::from_lookup(lookup(&[])),
            Err(ConfigError::Store(event_store::ConfigError::Missing(
                "TABLE_NAME"
            )))
        );
    }

    #[test]
    fn given_zero_shards_or_a_bad_bool_when_read_then_the_setting_is_named() {
        let err =
            Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("EVENT_SHARDS", "0")])).unwrap_err();
        assert!(matches!(err, ConfigError::Store(_)), "{err}");
        let err = Config::from_lookup(lookup(&[("TABLE_NAME", "t"), ("BATCH_CONCURRENCY", "0")]))
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "BATCH_CONCURRENCY",
                ..
            }
        ));
        let err = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("ALLOW_SIMULATED_FAILURE", "maybe"),
        ]))
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                name: "ALLOW_SIMULATED_FAILURE",
                ..
            }
        ));
    }
}
