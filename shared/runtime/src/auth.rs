//! Who is calling: the API key of a request (`x-api-key`, or `Authorization: Bearer`) turned
//! into its tenant, the client ids that tenant owns and the key's scopes and narrowed clients, with a short cache in the warm
//! function (`key_cache`) so most requests pay no DynamoDB read for it. The app owns an
//! `Authenticator` and hands it what it needs per request; this module knows no app.
//!
//! Every refusal is a 401 `unauthorized` whose sentence says what to fix in the request,
//! never whether a key exists: an unknown, a revoked and an expired key read the same.

use std::sync::Arc;
use std::time::{Duration, Instant};

use event_http::{ApiError, ErrorCode};
use event_store::{ClientPatterns, KeyHash, Store, TenantId};
use lambda_http::http::{header, HeaderMap};
use lambda_http::{Request, RequestExt};

use crate::api_key::{key_hash, looks_like_key, same_hash};
use crate::caller::Caller;
use crate::clock::Clock;
use crate::failure::store_error;
use crate::key_cache::{Grant, KeyCache, Resolved};

/// Longer header values are not keys; refused before any work.
const MAX_HEADER_LEN: usize = 256;

/// Names of query parameters that look like an API key sent in the URL.
const KEY_PARAMS: [&str; 4] = ["api_key", "apikey", "x-api-key", "key"];

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

/// What authentication keeps between requests of a warm function: the keys read recently,
/// and the caller of every request when authentication is off. The app owns one and hands
/// it the rest (settings, store, clock) per request, so this module needs nothing of the app.
pub struct Authenticator {
    keys: KeyCache,
    /// The caller of every request when authentication is off: the `TENANT` setting's
    /// tenant, owning every client id.
    anonymous: Arc<Caller>,
}

impl Authenticator {
    /// `tenant`: whom requests act for when authentication is off.
    pub fn new(tenant: TenantId) -> Self {
        Authenticator {
            keys: KeyCache::default(),
            anonymous: Arc::new(Caller::with_every_scope(tenant, ClientPatterns::all())),
        }
    }

    /// The caller of `req`: its tenant and clients, from its key (or the configured tenant
    /// when authentication is off). A key not in the cache is read from `store`, giving up
    /// at `deadline`; `clock` says whether the key has expired.
    pub async fn caller<S: Store>(
        &self,
        req: &Request,
        auth: &AuthConfig,
        store: &S,
        deadline: Instant,
        clock: Clock,
    ) -> Result<Arc<Caller>, ApiError> {
        if !auth.enabled {
            return Ok(Arc::clone(&self.anonymous));
        }
        let key = key_of(req.headers(), key_in_url(req))?;
        let hash = key_hash(key);
        let resolved = match self.keys.get(&hash, auth.cache_ttl) {
            Some(resolved) => resolved,
            None => {
                let resolved = Resolved {
                    read_at: Instant::now(),
                    grant: read_grant(&store.until(deadline), &hash).await?,
                };
                if !auth.cache_ttl.is_zero() {
                    self.keys.put(hash, resolved.clone(), auth.cache_ttl);
                }
                resolved
            }
        };
        let now = clock().unix_nanos() / 1_000_000_000;
        match resolved.grant {
            Some(grant)
                if !grant.revoked && grant.expires_at.is_none_or(|expires| now < expires) =>
            {
                Ok(Arc::clone(&grant.caller))
            }
            _ => Err(unauthorized("The API key is not valid.")),
        }
    }
}

/// Whether the query string has a parameter named like an API key (refused: URLs are logged).
fn key_in_url(req: &Request) -> bool {
    let query = req.query_string_parameters_ref();
    query.is_some_and(|q| KEY_PARAMS.iter().any(|name| q.first(name).is_some()))
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

/// The key's tenant and state from the table (two reads; the caller caches the answer).
async fn read_grant<S: Store>(store: &S, hash: &KeyHash) -> Result<Option<Arc<Grant>>, ApiError> {
    let Some(tenant_id) = store.tenant_of_key(hash).await.map_err(store_error)? else {
        return Ok(None);
    };
    let Some(tenant) = store.get_tenant(&tenant_id).await.map_err(store_error)? else {
        return Ok(None);
    };
    // The tenant lists its keys by hash; compare without an early exit on the first byte.
    let Some(state) = tenant
        .keys
        .iter()
        .find(|(stored, _)| same_hash(stored, hash))
        .map(|(_, state)| state)
    else {
        return Ok(None);
    };
    Ok(Some(Arc::new(Grant {
        expires_at: state.expires_at,
        revoked: state.revoked,
        // The key's scopes and narrowed clients travel with its caller (and so in the cache).
        caller: Arc::new(Caller {
            tenant: tenant.id,
            clients: tenant.clients,
            only_clients: state.only_clients.clone(),
            scopes: state.scopes,
            limits: tenant.limits,
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
