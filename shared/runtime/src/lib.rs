//! `event-runtime`: what the store-backed functions (ingest, listing, aggregates) run on
//! in Lambda: the app built once per cold start (store, settings, clock), API-key
//! authentication, the DynamoDB client, settings from the environment, API keys themselves,
//! and the handler tests' kit. HTTP itself (routing, errors, serving) is `event-http`'s.
//!
//! Modules depend one way (no two use each other): `aws` -> `app` -> `config` -> `auth` ->
//! `key_cache` -> `caller`; `app` -> `scope` -> `caller`; `api_key`, `clock` and `failure`
//! use no other module.

pub mod api_key;
pub mod app;
pub mod auth;
pub mod aws;
pub mod caller;
pub mod clock;
pub mod config;
pub mod failure;
pub mod key_cache;
pub mod limiter;
pub mod scope;
#[cfg(feature = "test-support")]
pub mod testing;

pub use api_key::ApiKey;
pub use app::{App, Ctx};
pub use auth::AuthConfig;
pub use caller::Caller;
pub use clock::{system_now, Clock};
pub use config::{Config, ConfigError};
pub use event_store::Scope;
pub use failure::{failure_reason, reason_detail, store_error};
pub use limiter::{with_limit_headers, Admission, LimitDefaults, LimitState, Limiter, Limits};
