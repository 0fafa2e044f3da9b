//! Who is calling: the API key of a request (`x-api-key`, or `Authorization: Bearer`) turned
//! into its tenant and the client ids that tenant owns, with a short cache in the warm
//! function so most requests pay no DynamoDB read for it.
//!
//! Every refusal is a 401 `unauthorized` whose sentence says what to fix in the request,
//! never whether a key exists: an unknown, a revoked and an expired key read the same.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_core::ClientId;
use event_store::tenancy::looks_like_key;
use event_store::{ClientPatterns, KeyHash, Store, TenantId};
use lambda_http::http::{header, HeaderMap};

use crate::{ApiError, App, ErrorCode};

/// Longer header values are not keys; refused before any work.
const MAX_HEADER_LEN: usize = 256;
/// Keys remembered at most; past this the cache starts over (random keys cannot grow it).
const MAX_CACHED_KEYS: usize = 10_000;

/// Authentication settings (`AUTH`, `AUTH_CACHE_SECONDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `AUTH=off` serves every request as the `TENANT` setting's tenant, owning every client:
    /// for local experiments only (each cold start logs a warning).
    pub enabled: bool,
    /// How long a warm function trusts what it read of a key: a revocation takes effect
    /// within this time. 0 reads the table on every request.
    pub cache_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            cache_ttl: Duration::from_secs(60),
        }
    }
}

/// The tenant a request acts for, and the client ids it may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub clients: ClientPatterns,
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

/// What one key resolved to when it was read: `None` for a key that is not usable.
#[derive(Clone)]
struct Resolved {
    read_at: Instant,
    grant: Option<Arc<Grant>>,
}

struct Grant {
    caller: Arc<Caller>,
    /// Unix seconds; checked on every request, so an expiry is exact even while cached.
    expires_at: Option<i64>,
    revoked: bool,
}

/// Keys read recently, by hash (never the key itself).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<KeyHash, Resolved>>,
}

impl KeyCache {
    fn get(&self, hash: &KeyHash, ttl: Duration) -> Option<Resolved> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|entry| entry.read_at.elapsed() < ttl)
            .cloned()
    }

    fn put(&self, hash: KeyHash, resolved: Resolved, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.retain(|_, entry| entry.read_at.elapsed() < ttl);
            if entries.len() >= MAX_CACHED_KEYS {
                entries.clear();
            }
        }
        entries.insert(hash, resolved);
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::with_message(ErrorCode::Unauthorized, message)
}

const HOW: &str = "send it in the x-api-key header or as Authorization: Bearer <key>";

/// The key a request carries, or why it carries none usable.
pub fn key_of(headers: &HeaderMap, query_has_key: bool) -> Result<&str, ApiError> {
    let one = |name: header::HeaderName| -> Result<Option<&str>, ApiError> {
        let mut values = headers.get_all(&name).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(unauthorized(&format!(
                "The request carries {name} more than once; send one API key."
            )));
        }
        if value.len() > MAX_HEADER_LEN {
            return Err(unauthorized(&format!(
                "The {name} header is too long to hold an API key."
            )));
        }
        let text = value
            .to_str()
            .map_err(|_| unauthorized(&format!("The {name} header is not printable text.")))?;
        Ok(Some(text))
    };
    let from_x = one(header::HeaderName::from_static("x-api-key"))?;
    let from_bearer = match one(header::AUTHORIZATION)? {
        None => None,
        Some(value) => {
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(unauthorized(&format!(
                    "Authorization must use the Bearer scheme; {HOW}."
                )));
            }
            if token.trim().is_empty() {
                return Err(unauthorized(&format!(
                    "Authorization: Bearer carries no key; {HOW}."
                )));
            }
            Some(token)
        }
    };
    let key = match (from_x, from_bearer) {
        (Some(a), Some(b)) if a != b => {
            return Err(unauthorized(
                "x-api-key and Authorization carry different keys; send one.",
            ))
        }
        (Some(key), _) | (None, Some(key)) => key,
        (None, None) if query_has_key => {
            return Err(unauthorized(&format!(
                "API keys are not accepted in the URL (URLs end up in logs); {HOW}."
            )))
        }
        (None, None) => return Err(unauthorized(&format!("An API key is required; {HOW}."))),
    };
    if !looks_like_key(key) {
        return Err(unauthorized(
            "The API key is malformed: keys are eik_ followed by 43 letters, digits, - or _, \
             with no spaces.",
        ));
    }
    Ok(key)
}

/// The caller of a request: its tenant and clients, from its key (or the configured tenant
/// when authentication is off).
pub async fn authenticate<S: Store>(
    app: &App<S>,
    deadline: Instant,
    headers: &HeaderMap,
    query_has_key: bool,
) -> Result<Arc<Caller>, ApiError> {
    let auth = &app.config.auth;
    if !auth.enabled {
        return Ok(Arc::clone(&app.anonymous));
    }
    let key = key_of(headers, query_has_key)?;
    let hash = KeyHash::of(key);
    let resolved = match app.keys.get(&hash, auth.cache_ttl) {
        Some(resolved) => resolved,
        None => {
            let resolved = Resolved {
                read_at: Instant::now(),
                grant: read_grant(&app.store.until(deadline), &hash).await?,
            };
            if !auth.cache_ttl.is_zero() {
                app.keys.put(hash, resolved.clone(), auth.cache_ttl);
            }
            resolved
        }
    };
    let now = app.now().unix_nanos() / 1_000_000_000;
    match resolved.grant {
        Some(grant) if !grant.revoked && grant.expires_at.is_none_or(|expires| now < expires) => {
            Ok(Arc::clone(&grant.caller))
        }
        _ => Err(unauthorized("The API key is not valid.")),
    }
}

/// The key's tenant and state from the table (two reads; the caller caches the answer).
async fn read_grant<S: Store>(store: &S, hash: &KeyHash) -> Result<Option<Arc<Grant>>, ApiError> {
    let Some(tenant_id) = store.tenant_of_key(hash).await? else {
        return Ok(None);
    };
    let Some(tenant) = store.get_tenant(&tenant_id).await? else {
        return Ok(None);
    };
    // The tenant lists its keys by hash; compare without an early exit on the first byte.
    let Some(state) = tenant
        .keys
        .iter()
        .find(|(stored, _)| stored.ct_eq(hash))
        .map(|(_, state)| state)
    else {
        return Ok(None);
    };
    Ok(Some(Arc::new(Grant {
        expires_at: state.expires_at,
        revoked: state.revoked,
        caller: Arc::new(Caller {
            tenant: tenant.id,
            clients: tenant.clients,
        }),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    const KEY: &str = "eik_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn refused(pairs: &[(&'static str, &str)]) -> String {
        let err = key_of(&headers(pairs), false).unwrap_err();
        assert_eq!(err.code(), "unauthorized");
        assert_eq!(err.status().as_u16(), 401);
        err.message()
    }

    #[test]
    fn a_key_is_taken_from_either_header() {
        assert_eq!(key_of(&headers(&[("x-api-key", KEY)]), false).unwrap(), KEY);
        let bearer = format!("Bearer {KEY}");
        assert_eq!(
            key_of(&headers(&[("authorization", &bearer)]), false).unwrap(),
            KEY
        );
        let both = [("x-api-key", KEY), ("authorization", &bearer)];
        assert_eq!(key_of(&headers(&both), false).unwrap(), KEY);
    }

    #[test]
    fn each_bad_header_gets_its_own_sentence() {
        assert!(refused(&[]).contains("required"));
        assert!(refused(&[("authorization", KEY)]).contains("Bearer scheme"));
        assert!(refused(&[("authorization", "Basic dXNlcjpwYXNz")]).contains("Bearer scheme"));
        assert!(refused(&[("authorization", "Bearer ")]).contains("no key"));
        assert!(refused(&[("authorization", "Bearer")]).contains("no key"));
        assert!(refused(&[("x-api-key", &format!(" {KEY}"))]).contains("malformed"));
        assert!(refused(&[("x-api-key", &format!("{KEY} "))]).contains("malformed"));
        assert!(refused(&[("x-api-key", &"k".repeat(10 * 1024))]).contains("too long"));
        assert!(refused(&[("x-api-key", KEY), ("x-api-key", KEY)]).contains("more than once"));
        let other = KEY.replace('A', "B");
        assert!(refused(&[
            ("x-api-key", KEY),
            ("authorization", &format!("Bearer {other}"))
        ])
        .contains("different keys"));
        let err = key_of(&headers(&[]), true).unwrap_err();
        assert!(err.message().contains("not accepted in the URL"));
    }

    #[test]
    fn refusals_never_echo_the_header() {
        let secretish = format!("{KEY}x");
        assert!(!refused(&[("x-api-key", &secretish)]).contains(&secretish));
    }
}
