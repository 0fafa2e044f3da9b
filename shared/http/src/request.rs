//! What a handler reads off a request besides its body: the request id, the path it
//! routes on (API Gateway stage stripped), and query parameters.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The request id that error bodies and logs carry: the Lambda invocation id (what
/// CloudWatch shows), else API Gateway's, else a fresh one (tests, odd integrations).
pub fn request_id(req: &Request) -> String {
    if let Some(context) = req.lambda_context_ref() {
        if !context.request_id.is_empty() {
            return context.request_id.clone();
        }
    }
    let from_gateway = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn stage(req: &Request) -> Option<String> {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    }?;
    (!stage.is_empty() && stage != "$default").then_some(stage)
}

/// The request as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: String,
    pub method: Method,
    /// The paths to try, in order: the raw path as received, then the same path without
    /// the stage prefix. Both, because REST API v1 gives `/events` in `path` while HTTP
    /// API v2 (and some v1 setups) put `/{stage}/events` in the path: trying the raw path
    /// first keeps a stage that happens to be named like a route segment harmless.
    pub paths: Vec<String>,
}

impl RequestMeta {
    pub fn of(req: &Request) -> Self {
        let raw = req.raw_http_path();
        let path = if raw.is_empty() {
            req.uri().path().to_owned()
        } else {
            raw.to_owned()
        };
        let mut paths = vec![path.clone()];
        if let Some(stage) = stage(req) {
            let prefix = format!("/{stage}");
            if let Some(rest) = path.strip_prefix(&prefix) {
                if rest.is_empty() || rest.starts_with('/') {
                    paths.push(if rest.is_empty() {
                        "/".to_owned()
                    } else {
                        rest.to_owned()
                    });
                }
            }
        }
        RequestMeta {
            request_id: request_id(req),
            method: req.method().clone(),
            paths,
        }
    }

    /// The path for logs: the stage-free one when there is one.
    pub fn path(&self) -> &str {
        self.paths.last().map(String::as_str).unwrap_or("/")
    }
}

/// The body as bytes, however API Gateway delivered it (text, or base64 binary).
pub fn body_bytes(req: &Request) -> &[u8] {
    req.body().as_ref()
}

/// Query string parameters, already URL-decoded by API Gateway (v1) or lambda_http (v2).
#[derive(Debug, Clone, Default)]
pub struct Query(QueryMap);

impl Query {
    pub fn of(req: &Request) -> Self {
        Query(req.query_string_parameters())
    }

    /// The first value of `name`. An empty value counts as absent, so a form or dashboard
    /// that sends `client_id=&limit=` means "no filter", not "an invalid client id".
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.first(name).filter(|value| !value.is_empty())
    }
}

impl From<QueryMap> for Query {
    fn from(map: QueryMap) -> Self {
        Query(map)
    }
}
