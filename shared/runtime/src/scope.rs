//! The scope check every keyed route passes before any handler work: a route declares the one
//! scope it needs beside its path (`Route::new(.., (Endpoint::X, Scope::Read))`, which
//! infra/test_routes.py compares with api/openapi.yaml's `x-required-scope`), and a key
//! without it is answered 403 `forbidden_scope` before anything is read or written.

use event_http::{ApiError, ErrorCode};
use event_store::Scope;

use crate::caller::Caller;

/// What each scope lets a key do, for the refusal's sentence.
const fn what(scope: Scope) -> &'static str {
    match scope {
        Scope::Ingest => "sending events (POST /events)",
        Scope::Read => "reading events, failed records and aggregates",
        Scope::Replay => "retrying failed events",
    }
}

/// 403 `forbidden_scope`, naming the scope `scope` and the key's own, unless the caller's key
/// has `scope`.
pub fn require(caller: &Caller, scope: Scope) -> Result<(), ApiError> {
    if caller.scopes.contains(scope) {
        return Ok(());
    }
    Err(ApiError::with_message(
        ErrorCode::ForbiddenScope,
        format!(
            "This API key lacks the {scope} scope, which {} needs; its scopes are {}. \
             Use a key with the {scope} scope (admin key create --scopes {scope}).",
            what(scope),
            caller.scopes
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use event_store::{ClientPatterns, Scopes, TenantId};

    fn caller(scopes: &str) -> Caller {
        Caller {
            scopes: Scopes::parse(scopes).unwrap(),
            ..Caller::with_every_scope(TenantId::default(), ClientPatterns::all())
        }
    }

    #[test]
    fn a_key_passes_only_the_scopes_it_has_and_the_refusal_names_the_scope() {
        let ingest_only = caller("ingest");
        assert!(require(&ingest_only, Scope::Ingest).is_ok());
        for scope in [Scope::Read, Scope::Replay] {
            let err = require(&ingest_only, scope).unwrap_err();
            assert_eq!(err.code(), "forbidden_scope");
            assert_eq!(err.status().as_u16(), 403);
            assert!(
                err.message().contains(&format!("the {scope} scope")),
                "{}",
                err.message()
            );
        }
        let every = caller("ingest,read,replay");
        assert!(Scope::ALL.iter().all(|s| require(&every, *s).is_ok()));
    }
}
