//! Shared HTTP plumbing for the functions: config, the error body, responses, request
//! metadata, routing, logging and metrics. The one place where errors become status codes.

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod error;
pub mod metrics;
pub mod params;
pub mod request;
pub mod response;
pub mod routing;
pub mod serve;
pub mod status;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;

pub use app::{system_now, App, Clock, Ctx};
pub use auth::{AuthConfig, Caller};
pub use config::{Config, ConfigError};
pub use error::{ApiError, ErrorDetail};
pub use request::{body_bytes, request_id, Query, RequestMeta};
pub use response::{json_response, RETRY_AFTER_SECONDS};
pub use routing::{resolve, Params, Route};
pub use serve::{serve, Reply};
pub use status::{ErrorCode, EventStatus};
