//! Route matching inside one function: which of its routes a request is, with its path
//! parameters URL-decoded; 404 for an unknown path, 405 for a known path and wrong method.
//!
//! A function sees more than its routes: a catch-all integration, `cargo lambda watch`'s
//! router, a mistyped path. Answering those with the error body beats an empty 200.

use lambda_http::http::Method;
use percent_encoding::percent_decode_str;

use crate::{ApiError, ErrorCode, RequestMeta};

/// One route: `pattern` segments are literals or `{name}` (one non-empty segment).
#[derive(Debug, Clone)]
pub struct Route<R> {
    pub method: Method,
    pub pattern: &'static str,
    pub id: R,
}

impl<R> Route<R> {
    pub const fn new(method: Method, pattern: &'static str, id: R) -> Self {
        Route {
            method,
            pattern,
            id,
        }
    }
}

/// Path parameters of a matched route, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The route `meta` asks for. Tries each candidate path in order (see
/// `RequestMeta::paths`); the first path that matches any pattern decides.
pub fn resolve<R: Copy>(routes: &[Route<R>], meta: &RequestMeta) -> Result<(R, Params), ApiError> {
    for path in &meta.paths {
        let matching: Vec<(&Route<R>, Params)> = routes
            .iter()
            .filter_map(|route| match_pattern(route.pattern, path).map(|params| (route, params)))
            .collect();
        if matching.is_empty() {
            continue;
        }
        if let Some((route, params)) = matching
            .iter()
            .find(|(route, _)| route.method == meta.method)
        {
            return Ok((route.id, params.clone()));
        }
        let mut allow: Vec<&'static str> = matching
            .iter()
            .map(|(route, _)| method_name(&route.method))
            .collect();
        allow.dedup();
        return Err(ApiError::MethodNotAllowed {
            method: meta.method.to_string(),
            allow,
        });
    }
    Err(ApiError::with_message(
        ErrorCode::NotFound,
        format!("No route for {}.", meta.path()),
    ))
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// `Some(params)` when `path` fits `pattern`. A trailing slash is ignored; each segment
/// is decoded after splitting, so an encoded `/` (`%2F`) stays inside its parameter.
fn match_pattern(pattern: &'static str, path: &str) -> Option<Params> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut wanted = pattern.split('/');
    let mut given = path.split('/');
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(Params(params)),
            (Some(want), Some(got)) => {
                if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    let value = percent_decode_str(got).decode_utf8().ok()?.into_owned();
                    if value.is_empty() {
                        return None;
                    }
                    params.push((name, value));
                } else if want != got {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Id {
        List,
        One,
        Retry,
    }

    const ROUTES: [Route<Id>; 3] = [
        Route::new(Method::GET, "/events/failed", Id::List),
        Route::new(Method::GET, "/events/failed/{failed_id}", Id::One),
        Route::new(Method::POST, "/events/failed/{failed_id}/retry", Id::Retry),
    ];

    fn meta(method: Method, paths: &[&str]) -> RequestMeta {
        RequestMeta {
            request_id: "r".into(),
            method,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn given_an_encoded_parameter_when_resolved_then_it_is_decoded() {
        let (id, params) = resolve(
            &ROUTES,
            &meta(Method::POST, &["/events/failed/a%3Ab%2Fc/retry"]),
        )
        .unwrap();
        assert_eq!(id, Id::Retry);
        assert_eq!(params.get("failed_id"), Some("a:b/c"));
    }

    #[test]
    fn given_a_stage_prefixed_path_when_resolved_then_the_stage_free_candidate_matches() {
        let (id, _) = resolve(
            &ROUTES,
            &meta(Method::GET, &["/prod/events/failed", "/events/failed"]),
        )
        .unwrap();
        assert_eq!(id, Id::List);
    }

    #[test]
    fn given_a_trailing_slash_when_resolved_then_it_is_ignored() {
        let (id, _) = resolve(&ROUTES, &meta(Method::GET, &["/events/failed/"])).unwrap();
        assert_eq!(id, Id::List);
    }

    #[test]
    fn given_an_unknown_path_when_resolved_then_404() {
        let err = resolve(&ROUTES, &meta(Method::GET, &["/nope"])).unwrap_err();
        assert_eq!(err.code(), "not_found");
    }

    #[test]
    fn given_a_known_path_and_wrong_method_when_resolved_then_405() {
        let err = resolve(&ROUTES, &meta(Method::DELETE, &["/events/failed/x"])).unwrap_err();
        assert_eq!(err.code(), "method_not_allowed");
    }

    #[test]
    fn given_an_empty_parameter_when_resolved_then_no_match() {
        let err = resolve(&ROUTES, &meta(Method::POST, &["/events/failed//retry"])).unwrap_err();
        assert_eq!(err.code(), "not_found");
    }
}
