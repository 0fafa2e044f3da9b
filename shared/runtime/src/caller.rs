//! Who a request acts for: a tenant and the client ids it owns, and the one refusal that
//! follows from it (403 `client_not_allowed`). Its own module because the app, the
//! authentication and the key cache all speak of it, and none of them should own the others.

use event_core::ClientId;
use event_http::{ApiError, ErrorCode};
use event_store::{ClientPatterns, TenantId, TenantLimits};

/// The tenant a request acts for, and the client ids it may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub clients: ClientPatterns,
    /// The tenant's own limits (read with its key; the deployment's defaults fill the gaps).
    pub limits: TenantLimits,
}

impl Caller {
    /// 403 `client_not_allowed` unless the tenant owns `client`.
    pub fn check_client(&self, client: &ClientId) -> Result<(), ApiError> {
        if self.clients.owns(client) {
            Ok(())
        } else {
            Err(client_not_allowed(client))
        }
    }
}

/// The error of a client id the caller's tenant does not own.
pub fn client_not_allowed(client: &ClientId) -> ApiError {
    ApiError::Code {
        code: ErrorCode::ClientNotAllowed,
        field: Some("client_id"),
        message: Some(format!(
            "This API key's tenant does not own client_id {:?}.",
            client.as_str()
        )),
    }
}
