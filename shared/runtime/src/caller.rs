//! Who a request acts for: a tenant, the client ids it owns, and what its key may do, and the
//! refusals that follow from it (403 `client_not_allowed`, 403 `forbidden_scope` in
//! `scope.rs`). Its own module because the app, the authentication and the key cache all speak
//! of it, and none of them should own the others.

use event_core::ClientId;
use event_http::{ApiError, ErrorCode};
use event_store::{ClientPatterns, Scopes, TenantId, TenantLimits};

/// The tenant a request acts for, the client ids it may touch and what its key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    /// The tenant's client patterns, as read with the key.
    pub clients: ClientPatterns,
    /// The key's own narrower patterns, if it has any: a client id must match both, so a
    /// tenant narrowed after the key was made narrows the key too.
    pub only_clients: Option<ClientPatterns>,
    pub scopes: Scopes,
    /// The tenant's own limits (read with its key; the deployment's defaults fill the gaps).
    pub limits: TenantLimits,
}

impl Caller {
    /// A caller with every scope over `clients` (authentication off, tests).
    pub fn with_every_scope(tenant: TenantId, clients: ClientPatterns) -> Self {
        Caller {
            tenant,
            clients,
            only_clients: None,
            scopes: Scopes::all(),
            limits: TenantLimits::default(),
        }
    }

    /// Whether the request may touch `client`: its tenant owns it and its key covers it.
    pub fn owns(&self, client: &ClientId) -> bool {
        self.clients.owns(client) && self.only_clients.as_ref().is_none_or(|k| k.owns(client))
    }

    /// Whether a stored record of `client` (`None`: kept without a valid client id) is the
    /// caller's to see. A record without a client id is the tenant's, so only a key that is
    /// not narrowed sees it.
    pub fn sees(&self, client: Option<&ClientId>) -> bool {
        match client {
            Some(client) => self.owns(client),
            None => self.only_clients.is_none(),
        }
    }

    /// 403 `client_not_allowed` unless the caller may touch `client`.
    pub fn check_client(&self, client: &ClientId) -> Result<(), ApiError> {
        if !self.clients.owns(client) {
            Err(client_not_allowed(client))
        } else if let Some(only) = self.only_clients.as_ref().filter(|k| !k.owns(client)) {
            Err(ApiError::Code {
                code: ErrorCode::ClientNotAllowed,
                field: Some("client_id"),
                message: Some(format!(
                    "This API key is limited to client ids {only}; it does not cover client_id {:?}.",
                    client.as_str()
                )),
            })
        } else {
            Ok(())
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
