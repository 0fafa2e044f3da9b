//! The `dashboard` function: `GET /` (the page), `GET /assets/{file}` (its modules, style,
//! icon and the event-core WASM module, under content-hashed names) and `GET /openapi.json`
//! (`api/openapi.yaml` as JSON). Everything is embedded at build time (`build.rs`); the
//! function reads nothing at run time and needs no settings.
//!
//! The page is the same behind API Gateway (REST, stage in the URL) and under `cargo lambda
//! watch`: its asset URLs carry the prefix the browser used to reach `/` (`/v1` on
//! `https://…/v1/`, nothing locally), and its modules find the API relative to themselves.

use event_http::{resolve, serve, ApiError, ErrorCode, Reply, RequestMeta, Route};
use lambda_http::http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

/// One embedded asset, served at `/assets/{name}`.
#[derive(Debug)]
pub struct Asset {
    /// The file it was built from (`app.js`, `event_core_bg.wasm`).
    pub source: &'static str,
    /// The served name, with its content hash (`app.3f2a1c9e.js`).
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: Content,
}

#[derive(Debug, Clone, Copy)]
pub enum Content {
    Text(&'static str),
    /// Sent base64-encoded through Lambda (`isBase64Encoded`), decoded by API Gateway
    /// (binary media types) and by `cargo lambda watch`.
    Binary(&'static [u8]),
}

impl Content {
    pub fn bytes(&self) -> &'static [u8] {
        match self {
            Content::Text(text) => text.as_bytes(),
            Content::Binary(bytes) => bytes,
        }
    }
}

mod embedded {
    use super::{Asset, Content};
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Every embedded asset.
pub fn assets() -> &'static [Asset] {
    embedded::ASSETS
}

/// The asset built from `source` (`app.js`), for tests and tools.
pub fn asset_from(source: &str) -> Option<&'static Asset> {
    assets().iter().find(|asset| asset.source == source)
}

/// `/assets/{name}` of the asset named `name`.
fn asset_named(name: &str) -> Option<&'static Asset> {
    assets().iter().find(|asset| asset.name == name)
}

/// The policy of the page: its own scripts and styles only (no inline code of either), WASM
/// compiled from its own module, API calls to its own origin, no framing, no `<base>`.
pub const CONTENT_SECURITY_POLICY_VALUE: &str =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// Hashed names never change content: cache them for a year, never revalidate.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The page and the API document: always revalidate (they name the current assets).
pub const NO_CACHE: &str = "no-cache";

#[derive(Debug, Clone, Copy)]
enum Page {
    Index,
    OpenApi,
    Asset,
}

const ROUTES: [Route<Page>; 3] = [
    Route::new(Method::GET, "/", Page::Index),
    Route::new(Method::GET, "/openapi.json", Page::OpenApi),
    Route::new(Method::GET, "/assets/{file}", Page::Asset),
];

/// Answer one request.
pub async fn handle(req: Request) -> Response<Body> {
    let mut response = serve(req, |req, meta| async move { route(&req, &meta) }).await;
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Errors (an unknown asset) must not be cached as if they were the asset.
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn route(req: &Request, meta: &RequestMeta) -> Result<Reply, ApiError> {
    let (page, params) = resolve(&ROUTES, meta)?;
    match page {
        Page::Index => {
            let html = embedded::INDEX_HTML.replace("%BASE%", &base_prefix(req));
            Ok(reply(
                Body::Text(html),
                "text/html; charset=utf-8",
                NO_CACHE,
                Some(CONTENT_SECURITY_POLICY_VALUE),
                "page",
            ))
        }
        Page::OpenApi => Ok(reply(
            Body::Text(embedded::OPENAPI_JSON.to_owned()),
            "application/json",
            NO_CACHE,
            None,
            "openapi",
        )),
        Page::Asset => {
            let file = params.get("file").unwrap_or_default();
            let asset = asset_named(file).ok_or_else(|| {
                ApiError::with_message(
                    ErrorCode::NotFound,
                    format!("No asset is named {file:?}; reload the page for the current ones."),
                )
            })?;
            let body = match asset.body {
                Content::Text(text) => Body::Text(text.to_owned()),
                Content::Binary(bytes) => Body::Binary(bytes.to_vec()),
            };
            Ok(reply(body, asset.content_type, IMMUTABLE, None, "asset"))
        }
    }
}

fn reply(
    body: Body,
    content_type: &'static str,
    cache: &'static str,
    csp: Option<&'static str>,
    outcome: &'static str,
) -> Reply {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Some(csp) = csp {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    }
    Reply { response, outcome }
}

/// What comes before `/` in the URL the browser asked for: `/v1` for
/// `https://{api}.execute-api…/v1/` (REST API: `requestContext.path`, since `path` has no
/// stage), `/prod` when the stage is in the path itself, nothing under `cargo lambda watch`
/// or on a custom domain without a base path. Only URL-path characters are kept; anything
/// else gives no prefix rather than markup in the page.
pub fn base_prefix(req: &Request) -> String {
    let from_context = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.path.clone(),
        _ => None,
    };
    let raw = req.raw_http_path();
    let full = from_context
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| {
            if raw.is_empty() {
                req.uri().path().to_owned()
            } else {
                raw.to_owned()
            }
        });
    let prefix = full.trim_end_matches('/');
    let safe = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%".contains(&b));
    if safe && (prefix.is_empty() || prefix.starts_with('/')) && !prefix.contains("//") {
        prefix.to_owned()
    } else {
        String::new()
    }
}
