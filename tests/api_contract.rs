//! The API answers what `/openapi.json` promises, found by fuzzing it with
//! schemathesis (`scripts/schemathesis.sh`): malformed query strings are
//! problem+json 400s, counts saturate, and formats are checked exactly.

use portico_tests::{AppSpec, TestApp, spawn_app};
use serde_json::Value;

async fn demo() -> TestApp {
    spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await
}

/// Sends a request as the admin; answers the status, content type and body.
async fn send(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, String, Value) {
    let response = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(r#"{"type": "url", "target": "https://example.com/catalog-info.yaml"}"#)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn malformed_query_strings_are_problem_json_400s() {
    let app = demo().await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/gateways/edge/runs?limit=-1"),
        (reqwest::Method::POST, "/api/catalog/locations?dryRun=maybe"),
        (reqwest::Method::GET, "/api/v1/audit?format=xml"),
        (reqwest::Method::GET, "/api/v1/audit?format="),
        (reqwest::Method::GET, "/api/v1/audit?limit=1.5"),
        (reqwest::Method::GET, "/api/catalog/entities?after="),
        (reqwest::Method::GET, "/api/catalog/entities?after=o%2B1"),
        (reqwest::Method::GET, "/api/v1/apis?limit=-3"),
    ] {
        let (status, kind, body) = send(&app, method.clone(), path).await;
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert_eq!(kind, "application/problem+json", "{method} {path}");
        assert_eq!(body["status"], 400, "{method} {path}");
    }
}

#[tokio::test]
async fn counts_too_large_to_matter_saturate_instead_of_failing() {
    let app = demo().await;
    let huge = "503670737261086179328";
    let (status, _, body) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/apis?limit={huge}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body["hits"].as_array().unwrap().is_empty(), "{body}");
    let path = format!("/api/catalog/entities?limit={huge}&offset={huge}");
    let (status, _, body) = send(&app, reqwest::Method::GET, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, Value::Array(Vec::new()));
    let (status, _, body) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/audit?limit={huge}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn audit_export_format_is_one_of_the_documented_two() {
    let app = demo().await;
    let (status, kind, _) = send(&app, reqwest::Method::GET, "/api/v1/audit?format=jsonl").await;
    assert_eq!((status, kind.as_str()), (200, "application/jsonl"));
    let (status, kind, body) = send(&app, reqwest::Method::GET, "/api/v1/audit?format=json").await;
    assert_eq!((status, kind.as_str()), (200, "application/json"));
    assert!(body["entries"].is_array());
}

#[tokio::test]
async fn catalog_cursor_from_a_link_header_is_accepted() {
    let app = demo().await;
    let response = app.get("/api/catalog/entities?limit=1").await;
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let next = link
        .trim_start_matches('<')
        .split_once('>')
        .map(|(url, _)| url.to_owned())
        .unwrap();
    let (status, _, body) = send(&app, reqwest::Method::GET, &next).await;
    assert_eq!(status, 200, "{next}: {body}");
    assert_eq!(body.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn plugin_upload_as_octet_stream_is_checked_like_application_wasm() {
    let app = demo().await;
    for media_type in ["application/octet-stream", "application/wasm"] {
        let response = app
            .client
            .post(format!("{}/api/v1/plugins", app.base))
            .bearer_auth(&app.admin_token)
            .header("content-type", media_type)
            .body(vec![0u8, 1, 2, 3])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{media_type}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("WebAssembly"),
            "{media_type}: {problem}"
        );
    }
}

#[tokio::test]
async fn openapi_documents_the_formats_the_server_checks() {
    let app = demo().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} documents {name}"))["schema"]
            .clone()
    };
    assert_eq!(
        param("/api/catalog/entities", "after")["pattern"],
        "^o[0-9]{1,19}$"
    );
    assert_eq!(
        param("/api/v1/audit", "format")["enum"],
        serde_json::json!(["json", "jsonl"])
    );
    assert!(param("/api/v1/audit", "from")["pattern"].is_string());
    assert!(param("/api/catalog/entities", "filter")["items"]["pattern"].is_string());
    let runs = &doc["paths"]["/api/v1/gateways/{name}/runs"]["get"]["responses"];
    assert!(runs.get("400").is_some(), "runs documents its 400");
    let upload = &doc["paths"]["/api/v1/plugins"]["post"]["requestBody"]["content"];
    assert!(upload.get("application/octet-stream").is_some());
}
