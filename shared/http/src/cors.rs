//! CORS for the one route browsers may call: `POST /events` and its `OPTIONS` preflight,
//! from the origins the deployment allows (`ALLOWED_ORIGINS`, the template's
//! `AllowedOrigins`: none by default, `*` for any). The function answers CORS itself, the
//! same behind both API Gateway kinds and under the local emulator: API Gateway's own CORS
//! settings would either answer only the preflight (REST) or every route (HTTP API).
//!
//! Never credentials: the key travels in `x-api-key`, which a page sets itself; cookies are
//! not an API credential here, so `Access-Control-Allow-Credentials` is never sent.

use lambda_http::http::{header, HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

/// The request headers a page may send (`x-api-key` is not CORS-safelisted; `content-type`
/// is, unless it says `application/json`, which it does).
pub const ALLOW_HEADERS: &str = "content-type, x-api-key";
pub const ALLOW_METHODS: &str = "POST, OPTIONS";
/// Headers a page may read off the answer besides the safelisted ones: when to resend, and
/// the tenant's limits (so a sender can pace itself before it is refused).
pub const EXPOSE_HEADERS: &str = "retry-after, ratelimit, ratelimit-policy";
/// How long a browser may reuse a preflight answer (seconds).
pub const MAX_AGE: &str = "600";

/// The origins allowed to call the browser-facing route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// No browser origin (the default): no CORS header is ever sent.
    #[default]
    None,
    /// `*`: any origin (never with credentials, which are never allowed here).
    Any,
    /// Exact origins (`https://app.example.com`, `http://127.0.0.1:9031`).
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Comma separated origins, `*`, or nothing. An origin is `scheme://host[:port]` with no
    /// path and no trailing slash, exactly as browsers send it in `Origin`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Ok(AllowedOrigins::None);
        }
        if parts.contains(&"*") {
            return if parts.len() == 1 {
                Ok(AllowedOrigins::Any)
            } else {
                Err("* stands alone: it already allows every origin".to_owned())
            };
        }
        for origin in &parts {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let ok = rest.is_some_and(|host| {
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
            });
            if !ok {
                return Err(format!(
                    "{origin:?} is not an origin: write scheme://host[:port], such as \
                     https://app.example.com, without a path or a trailing slash"
                ));
            }
        }
        Ok(AllowedOrigins::List(
            parts.into_iter().map(str::to_owned).collect(),
        ))
    }

    /// The `Access-Control-Allow-Origin` value for a request with these headers, when its
    /// `Origin` is allowed; `None` (no CORS header at all) otherwise.
    pub fn allow(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        match self {
            AllowedOrigins::None => None,
            AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
            AllowedOrigins::List(list) => list
                .iter()
                .any(|allowed| allowed.as_bytes() == origin.as_bytes())
                .then(|| origin.clone()),
        }
    }
}

/// Adds the CORS headers of an actual (non-preflight) answer: the allowed origin (when it is
/// one) and `Vary: Origin` whenever origins are configured, so a cache never hands one
/// origin's answer to another.
pub fn decorate(response: &mut Response<Body>, origins: &AllowedOrigins, request: &HeaderMap) {
    if *origins == AllowedOrigins::None {
        return;
    }
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origins.allow(request) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}

/// The answer to an `OPTIONS` preflight: `204`, with the CORS headers only for an allowed
/// origin (a browser then refuses the actual request of any other origin).
pub fn preflight(origins: &AllowedOrigins, request: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    if *origins == AllowedOrigins::None {
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origins.allow(request) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn only_listed_origins_are_allowed_and_star_allows_any() {
        let list = AllowedOrigins::parse("https://app.example.com, http://127.0.0.1:9031").unwrap();
        assert_eq!(
            list.allow(&from(Some("http://127.0.0.1:9031"))).unwrap(),
            "http://127.0.0.1:9031"
        );
        assert!(list
            .allow(&from(Some("https://evil.example.com")))
            .is_none());
        assert!(list
            .allow(&from(Some("https://app.example.com/")))
            .is_none());
        assert!(list.allow(&from(None)).is_none());
        let any = AllowedOrigins::parse("*").unwrap();
        assert_eq!(any.allow(&from(Some("https://x.example"))).unwrap(), "*");
        let none = AllowedOrigins::parse(" ").unwrap();
        assert!(none.allow(&from(Some("https://app.example.com"))).is_none());
    }

    #[test]
    fn malformed_origin_lists_are_refused() {
        for bad in [
            "app.example.com",
            "https://a.example/",
            "https://a/b",
            "*,https://a.example",
            "ftp://a",
        ] {
            assert!(AllowedOrigins::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_preflight_gets_cors_headers_only_for_an_allowed_origin_and_never_credentials() {
        let origins = AllowedOrigins::parse("https://app.example.com").unwrap();
        let ok = preflight(&origins, &from(Some("https://app.example.com")));
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        let h = ok.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_HEADERS], ALLOW_HEADERS);
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        let other = preflight(&origins, &from(Some("https://evil.example.com")));
        assert_eq!(other.status(), StatusCode::NO_CONTENT);
        assert!(!other
            .headers()
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")));
    }
}
