//! `event-http`: HTTP only, for every function (the dashboard included): routing, query
//! parameters, the error body and the status map, request metadata, responses, the frame
//! around each request (`serve`), logging and metrics. The one place where errors become
//! status codes. No AWS SDK and no storage: the store-backed functions' runtime is
//! `event-runtime`.

pub mod cors;
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

pub use cors::AllowedOrigins;
pub use error::{ApiError, ErrorDetail};
pub use request::{body_bytes, request_id, Query, RequestMeta};
pub use response::{json_response, RETRY_AFTER_SECONDS};
pub use routing::{resolve, Params, Route};
pub use serve::{serve, Reply};
pub use status::{ErrorCode, EventStatus};
