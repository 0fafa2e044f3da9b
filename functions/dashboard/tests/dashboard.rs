//! `GET /`, `GET /assets/{file}`, `GET /openapi.json`: content types, cache headers, the page's
//! Content-Security-Policy, 404/405 with the error body, and asset names that match their
//! content, under API Gateway REST (v1, stage prefix) and `cargo lambda watch` (v2) events.

use std::collections::BTreeSet;

use dashboard::{assets, Content, CONTENT_SECURITY_POLICY_VALUE, IMMUTABLE, NO_CACHE};
use event_http::testing::fixture_request;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const OPENAPI_YAML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../api/openapi.yaml");

/// `GET {path}` as `cargo lambda watch` sends it (HTTP API v2, stage `$default`).
fn get_v2(path: &str) -> Request {
    fixture_request(FIXTURES, "http_v2_get.json", |event| {
        event["rawPath"] = Value::from(path);
        event["requestContext"]["http"]["path"] = Value::from(path);
    })
}

/// `GET {path}` as API Gateway REST sends it for `https://…/v1{path}` (stage not in `path`).
fn get_v1(path: &str) -> Request {
    fixture_request(FIXTURES, "rest_v1_get.json", |event| {
        event["path"] = Value::from(path);
        event["requestContext"]["path"] = Value::from(format!("/v1{path}"));
    })
}

async fn call(req: Request) -> Response<Body> {
    dashboard::handle(req).await
}

fn header_of(response: &Response<Body>, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("an ASCII header")
}

fn text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(text) => text,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("a JSON body")
}

fn assert_security_headers(response: &Response<Body>) {
    assert_eq!(
        header_of(response, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff"
    );
    assert_eq!(header_of(response, header::REFERRER_POLICY), "no-referrer");
}

/// The `src`/`href` values in `html` that point at `/assets/`.
fn asset_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            rest = &rest[start + attr.len()..];
            let end = rest.find('"').expect("a closed attribute");
            if rest[..end].contains("/assets/") {
                urls.push(rest[..end].to_owned());
            }
            rest = &rest[end..];
        }
    }
    urls
}

#[tokio::test]
async fn given_cargo_lambda_watch_when_the_page_is_asked_then_html_no_cache_and_a_strict_csp() {
    let response = call(get_v2("/")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_of(&response, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&response, header::CACHE_CONTROL), NO_CACHE);
    assert_eq!(
        header_of(&response, header::CONTENT_SECURITY_POLICY),
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    assert_eq!(
        header_of(&response, header::CONTENT_SECURITY_POLICY),
        CONTENT_SECURITY_POLICY_VALUE
    );
    assert_security_headers(&response);
    let html = text(&response);
    assert!(html.starts_with("<!doctype html>"));
    let urls = asset_urls(html);
    assert!(
        urls.iter()
            .any(|u| u.starts_with("/assets/app.") && u.ends_with(".js")),
        "{urls:?}"
    );
    assert!(urls.iter().all(|u| u.starts_with("/assets/")), "{urls:?}");
}

#[tokio::test]
async fn given_the_page_when_read_then_it_has_no_inline_script_or_style() {
    let response = call(get_v2("/")).await;
    let html = text(&response).to_ascii_lowercase();

    // every <script> loads a file; no <style> element, style attribute or event handler attribute
    for (i, _) in html.match_indices("<script") {
        let tag_end = html[i..].find('>').unwrap() + i;
        assert!(html[i..tag_end].contains(" src="), "inline script at {i}");
        assert!(
            html[tag_end..].starts_with("></script>"),
            "script with a body at {i}"
        );
    }
    assert!(!html.contains("<style"));
    assert!(!html.contains(" style="));
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " oninput=",
        "javascript:",
    ] {
        assert!(!html.contains(handler), "{handler}");
    }
    assert!(!html.contains("<base"), "base-uri is 'none'");
    assert!(
        !html.contains("%base%"),
        "the prefix placeholder is replaced"
    );
}

#[tokio::test]
async fn given_api_gateway_rest_with_a_stage_when_the_page_is_asked_then_assets_carry_the_stage() {
    for path in ["/", ""] {
        let req = fixture_request(FIXTURES, "rest_v1_get.json", |event| {
            event["path"] = Value::from("/");
            // https://…/v1/ and https://…/v1 both reach the / resource
            event["requestContext"]["path"] = Value::from(format!("/v1{path}"));
        });
        let response = call(req).await;

        assert_eq!(response.status(), StatusCode::OK);
        let urls = asset_urls(text(&response));
        assert!(!urls.is_empty());
        assert!(
            urls.iter().all(|u| u.starts_with("/v1/assets/")),
            "{path:?}: {urls:?}"
        );
        assert!(text(&response).contains("href=\"/v1/openapi.json\""));
    }
}

#[tokio::test]
async fn given_the_stage_in_the_path_when_the_page_is_asked_then_it_routes_and_keeps_the_stage() {
    let req = fixture_request(FIXTURES, "rest_v1_get_stage_in_path.json", |_| {});
    let response = call(req).await;

    assert_eq!(response.status(), StatusCode::OK);
    let urls = asset_urls(text(&response));
    assert!(
        urls.iter().all(|u| u.starts_with("/prod/assets/")),
        "{urls:?}"
    );
}

#[tokio::test]
async fn given_a_request_path_with_markup_when_the_page_is_asked_then_no_prefix_is_used() {
    let req = fixture_request(FIXTURES, "rest_v1_get.json", |event| {
        event["requestContext"]["path"] = Value::from("/v1\"><script>alert(1)</script>/");
    });
    let response = call(req).await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = text(&response);
    assert!(!html.contains("alert(1)"));
    assert!(asset_urls(html).iter().all(|u| u.starts_with("/assets/")));
}

#[tokio::test]
async fn given_every_asset_when_asked_then_its_type_an_immutable_cache_and_its_bytes() {
    assert!(assets().len() >= 4, "page modules, style, glue and wasm");
    for asset in assets() {
        for req in [
            get_v2(&format!("/assets/{}", asset.name)),
            get_v1(&format!("/assets/{}", asset.name)),
        ] {
            let response = call(req).await;

            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            let content_type = header_of(&response, header::CONTENT_TYPE);
            let expected = match asset.name.rsplit('.').next().unwrap() {
                "js" => "text/javascript; charset=utf-8",
                "css" => "text/css; charset=utf-8",
                "wasm" => "application/wasm",
                "svg" => "image/svg+xml",
                other => panic!("unexpected asset type .{other}"),
            };
            assert_eq!(content_type, expected, "{}", asset.name);
            assert_eq!(header_of(&response, header::CACHE_CONTROL), IMMUTABLE);
            assert_eq!(
                IMMUTABLE, "public, max-age=31536000, immutable",
                "a year, never revalidated"
            );
            assert_security_headers(&response);
            assert_eq!(
                response.body().as_ref(),
                asset.body.bytes(),
                "{}",
                asset.name
            );
        }
    }
}

#[tokio::test]
async fn given_the_wasm_module_when_asked_then_it_is_a_binary_body() {
    let wasm = dashboard::asset_from("event_core_bg.wasm").expect("the wasm asset");
    assert!(matches!(wasm.body, Content::Binary(_)));

    let response = call(get_v2(&format!("/assets/{}", wasm.name))).await;

    // Body::Binary is what lambda_http sends base64-encoded with isBase64Encoded: true
    match response.body() {
        Body::Binary(bytes) => assert!(bytes.starts_with(b"\0asm"), "a WebAssembly module"),
        other => panic!("expected a binary body, got {other:?}"),
    }
}

#[test]
fn given_every_asset_when_named_then_the_name_carries_the_hash_of_its_bytes() {
    for asset in assets() {
        let digest = Sha256::digest(asset.body.bytes());
        let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let stem = asset.source.rsplit_once('.').unwrap().0;
        let ext = asset.source.rsplit_once('.').unwrap().1;
        assert_eq!(asset.name, format!("{stem}.{hash}.{ext}"));
    }
}

#[tokio::test]
async fn given_the_page_and_its_modules_when_followed_then_every_reference_is_served() {
    let page = call(get_v2("/")).await;
    let mut wanted: Vec<String> = asset_urls(text(&page))
        .iter()
        .map(|u| u.trim_start_matches("/assets/").to_owned())
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let response = call(get_v2(&format!("/assets/{name}"))).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{name} is referenced but not served"
        );
        if name.ends_with(".js") {
            // module imports and URLs: import … from "./x.js", new URL("./x.wasm", import.meta.url)
            let body = text(&response);
            for opener in ["from \"./", "import(\"./", "new URL(\"./"] {
                for (i, _) in body.match_indices(opener) {
                    let rest = &body[i + opener.len()..];
                    let end = rest.find('"').unwrap();
                    wanted.push(rest[..end].to_owned());
                }
            }
        }
    }
    for source in ["app.js", "style.css", "event_core.js", "event_core_bg.wasm"] {
        let asset = dashboard::asset_from(source).unwrap_or_else(|| panic!("{source} embedded"));
        assert!(
            seen.contains(asset.name),
            "{source} is reachable from the page"
        );
    }
}

#[tokio::test]
async fn given_an_unknown_or_unhashed_asset_when_asked_then_404_with_the_error_body() {
    for path in [
        "/assets/app.js",
        "/assets/nope.12345678.js",
        "/assets/..%2Fbuild.rs",
    ] {
        let response = call(get_v2(path)).await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "application/json"
        );
        assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-store");
        assert_security_headers(&response);
        let body = json(&response);
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        assert!(body["error"]["message"].as_str().unwrap().contains("asset"));
        assert_eq!(body["error"]["request_id"], "http-req-dash");
    }
}

#[tokio::test]
async fn given_an_unknown_path_or_a_wrong_method_when_asked_then_404_or_405() {
    let response = call(get_v2("/nope")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&response)["error"]["code"], "not_found");

    let req = fixture_request(FIXTURES, "http_v2_get.json", |event| {
        event["requestContext"]["http"]["method"] = Value::from("POST");
    });
    let response = call(req).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header_of(&response, header::ALLOW), "GET");
    assert_eq!(json(&response)["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn given_openapi_json_when_asked_then_valid_json_with_the_paths_of_the_yaml() {
    for req in [get_v2("/openapi.json"), get_v1("/openapi.json")] {
        let response = call(req).await;

        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            "application/json"
        );
        assert_eq!(header_of(&response, header::CACHE_CONTROL), NO_CACHE);
        assert_security_headers(&response);
        let document = json(&response);
        assert!(document["openapi"].as_str().unwrap().starts_with('3'));

        let yaml = std::fs::read_to_string(OPENAPI_YAML).expect("api/openapi.yaml");
        let docs = yaml_rust2::YamlLoader::load_from_str(&yaml).expect("YAML");
        let yaml_paths = docs[0]["paths"].as_hash().expect("paths in the YAML");
        let json_paths = document["paths"].as_object().expect("paths in the JSON");
        // serde_json's map is ordered by key here: compare as sets
        let from_yaml: BTreeSet<(String, BTreeSet<String>)> = yaml_paths
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_hash()
                    .map(|h| {
                        h.keys()
                            .filter_map(|k| k.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                (path.as_str().unwrap().to_owned(), methods)
            })
            .collect();
        let from_json: BTreeSet<(String, BTreeSet<String>)> = json_paths
            .iter()
            .map(|(path, item)| {
                let methods = item
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                (path.clone(), methods)
            })
            .collect();
        assert_eq!(from_json, from_yaml, "same paths and operations");
        assert!(!from_json.is_empty());
    }
}

#[test]
fn given_the_page_modules_when_read_then_they_build_no_markup_and_run_no_strings() {
    // DOM from text nodes only (nothing the service returns can become markup), no code from
    // strings (the policy would refuse it anyway), no inline style
    for asset in assets() {
        let (Content::Text(source), true) = (asset.body, asset.name.ends_with(".js")) else {
            continue;
        };
        if asset.source == "event_core.js" {
            continue; // wasm-bindgen's glue
        }
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute(\"style\"",
            "cssText",
        ] {
            assert!(!source.contains(banned), "{} uses {banned}", asset.source);
        }
    }
}
