//! The dashboard over HTTP: the page, its WASM module as binary bytes, and `/openapi.json`,
//! wherever `BASE_URL` points (the watcher, or the template deployed behind LocalStack's API
//! Gateway by `make deploy-local`, where the WASM module comes back base64-encoded from the
//! function and the gateway must decode it: the template's BinaryMediaTypes).

use integration_tests::{stack_base_url, Api, StatusCode};

/// The first `marker<hash>ext` in `text` (asset names carry their hash), from the marker on.
fn asset_after<'a>(text: &'a str, marker: &str, ext: &str) -> &'a str {
    let name_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    for (start, _) in text.match_indices(marker) {
        let rest = &text[start..];
        let end = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
        if rest[..end].ends_with(ext) {
            return &rest[..end];
        }
    }
    panic!("no {marker}…{ext} in {}", &text[..text.len().min(400)])
}

async fn get(api: &Api, path: &str, accept: &str) -> (StatusCode, String, Vec<u8>) {
    let response = api
        .request(reqwest::Method::GET, path)
        .header("accept", accept)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, kind, response.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn the_page_its_wasm_module_and_the_api_document_are_served_without_a_key() {
    let api = Api::new().with_key(None);

    // GIVEN the page, THEN html whose asset URLs carry the path the browser used (the stage
    // behind API Gateway, nothing under the watcher)
    let (status, kind, body) = get(&api, "/", "text/html").await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"), "{kind}");
    let html = String::from_utf8(body).expect("utf-8 page");
    let app = asset_after(&html, "/assets/app.", ".js");
    let prefix = &html[..html.find(app).unwrap()];
    let prefix = &prefix[prefix.rfind('"').unwrap() + 1..];
    let base_path = reqwest::Url::parse(&stack_base_url())
        .expect("BASE_URL")
        .path()
        .to_owned();
    assert!(
        base_path.trim_end_matches('/').ends_with(prefix),
        "asset prefix {prefix:?} is not the end of BASE_URL's path {base_path:?}"
    );

    // WHEN its modules are followed to the WASM module
    let (status, _, js) = get(&api, app, "*/*").await;
    assert_eq!(status, StatusCode::OK);
    let js = String::from_utf8(js).expect("utf-8 module");
    let wasm = asset_after(&js, "event_core_bg.", ".wasm");

    // THEN it arrives as the module's bytes (the browser asks with Accept: application/wasm)
    let (status, kind, bytes) = get(&api, &format!("/assets/{wasm}"), "application/wasm").await;
    assert_eq!(status, StatusCode::OK, "{wasm}");
    assert_eq!(kind, "application/wasm");
    assert_eq!(&bytes[..4], b"\0asm", "a WASM module, not base64 text");
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());

    // AND the API document is JSON with the paths
    let reply = api.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["paths"]["/events"].is_object(), "{}", reply.body);
}
