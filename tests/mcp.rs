//! The MCP endpoint end to end with a real client: the official Python SDK
//! (`tests/mcp/client.py`, PyPI `mcp`) connects over Streamable HTTP, lists
//! the tools and calls each one, as a visitor, a signed-in developer and the
//! admin token, against a catalogue with a public and an internal API. Runs
//! when `PORTICO_MCP_PYTHON` names a Python with `mcp` installed (scripts/test.sh
//! makes one); unset, the client test says so and passes.

use std::path::{Path, PathBuf};

use portico_tests::{ADMIN_TOKEN, AppSpec, TestApp, serve_files, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

/// A public API served by a local upstream (so `call_sandbox` answers), and an internal one.
fn catalog(upstream: &str) -> (String, String) {
    let descriptors = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: open-weather
  title: Open Weather
  description: Forecasts for anywhere.
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./weather.yaml}}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payroll
  annotations: {portico.dev/visibility: internal}
spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./payroll.yaml}}
";
    let spec = format!(
        "openapi: 3.0.3
info: {{title: Open Weather, version: 2.1.0}}
servers: [{{url: '{upstream}'}}]
paths:
  /forecast:
    get:
      operationId: getForecast
      summary: The forecast for a city
      parameters: [{{name: city, in: query, schema: {{type: string}}}}]
      responses: {{'200': {{description: The forecast}}}}
"
    );
    (descriptors.to_owned(), spec)
}

const PAYROLL: &str = "openapi: 3.0.3
info: {title: Payroll, version: 1.0.0}
paths:
  /payslips:
    get: {operationId: listPayslips, responses: {'200': {description: ok}}}
";

/// A portal with the public `open-weather` and the internal `payroll` API;
/// also the base URL of the upstream `open-weather` declares.
pub(crate) async fn portal() -> (TestApp, String) {
    let app = spawn_app(AppSpec::default()).await;
    let upstream_dir = app.data_dir.path().join("upstream");
    std::fs::create_dir_all(&upstream_dir).unwrap();
    std::fs::write(upstream_dir.join("forecast"), "{\"sky\": \"clear\"}").unwrap();
    let upstream = serve_files(&upstream_dir).await;
    let (descriptors, weather) = catalog(&upstream);
    app.import_catalog(&[
        ("catalog-info.yaml", &descriptors),
        ("weather.yaml", &weather),
        ("payroll.yaml", PAYROLL),
    ])
    .await;
    (app, upstream)
}

/// The Python with the MCP SDK, or `None` (and a note) when the test is to be skipped.
fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("PORTICO_MCP_PYTHON") else {
        eprintln!("skipped: PORTICO_MCP_PYTHON is not set (scripts/test.sh sets it)");
        return None;
    };
    let python = PathBuf::from(python);
    assert!(
        python.is_file(),
        "PORTICO_MCP_PYTHON names {}, which does not exist",
        python.display()
    );
    Some(python)
}

/// Runs the client with these headers and tool calls; its JSON report.
async fn mcp_client(python: &Path, app: &TestApp, headers: Value, calls: Value) -> Value {
    let plan = json!({ "url": format!("{}/mcp", app.base), "headers": headers, "calls": calls });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("mcp/client.py");
    let python = python.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = std::process::Command::new(&python)
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the MCP client starts");
        // The plan (with its credentials) goes on stdin, not on a command line others can read.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(plan.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the MCP client failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The result of the `i`th call.
fn call(report: &Value, i: usize) -> &Value {
    &report["calls"][i]
}

fn hit_names(result: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = result["structured"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("hits: {result}"))
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_client_reads_the_catalogue_as_its_caller_may() {
    let Some(python) = python() else { return };
    let (app, upstream) = portal().await;
    add_user(&app, "staff", "developer");
    let staff: Session = sign_in(&app, "staff").await;

    // A visitor: the public API only, and no sandbox calls.
    let visitor = mcp_client(
        &python,
        &app,
        json!({}),
        json!([
            {"tool": "search_apis", "arguments": {}},
            {"tool": "search_apis", "arguments": {"text": "forecasts"}},
            {"tool": "get_api", "arguments": {"name": "open-weather"}},
            {"tool": "get_api", "arguments": {"name": "payroll"}},
            {"tool": "get_operation", "arguments": {"name": "open-weather", "operation_id": "getForecast"}},
            {"tool": "get_operation", "arguments": {"name": "open-weather", "method": "get", "path": "/forecast"}},
            {"tool": "get_spec", "arguments": {"name": "open-weather"}},
            {"tool": "get_spec", "arguments": {"name": "payroll", "version": "1.0.0"}},
            {"tool": "call_sandbox", "arguments": {"name": "open-weather", "method": "GET", "path": "/forecast"}},
        ]),
    )
    .await;
    assert_eq!(visitor["server"], "portico", "{visitor}");
    assert_eq!(
        visitor["tools"],
        json!([
            "call_sandbox",
            "get_api",
            "get_operation",
            "get_spec",
            "search_apis"
        ])
    );
    assert_eq!(hit_names(call(&visitor, 0)), ["open-weather"]);
    assert_eq!(hit_names(call(&visitor, 1)), ["open-weather"]);
    assert_eq!(
        call(&visitor, 1)["structured"]["hits"][0]["docs"],
        "/apis/default/open-weather/docs.md"
    );
    let api = &call(&visitor, 2)["structured"];
    assert_eq!(api["latest_version"], "2.1.0", "{api}");
    assert_eq!(api["operations"][0]["operation_id"], "getForecast", "{api}");
    for hidden in [3, 7] {
        let result = call(&visitor, hidden);
        assert_eq!(result["is_error"], true, "{result}");
        assert!(
            result["text"].as_str().unwrap().starts_with("not found"),
            "a hidden API answers as a missing one: {result}"
        );
    }
    for by in [4, 5] {
        let operation = &call(&visitor, by)["structured"];
        assert_eq!(operation["method"], "GET", "{operation}");
        assert_eq!(operation["path"], "/forecast", "{operation}");
        assert_eq!(
            operation["summary"], "The forecast for a city",
            "{operation}"
        );
        let docs = operation["docs"].as_str().unwrap_or_default();
        assert!(
            docs.contains("`GET /forecast`") && docs.contains("city"),
            "{operation}"
        );
    }
    let spec = &call(&visitor, 6)["structured"];
    assert_eq!(spec["version"], "2.1.0");
    assert_eq!(spec["truncated"], false);
    assert!(
        spec["content"]
            .as_str()
            .unwrap()
            .contains("operationId: getForecast"),
        "{spec}"
    );
    let refused = call(&visitor, 8);
    assert_eq!(refused["is_error"], true, "{refused}");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .contains("signed-in caller"),
        "{refused}"
    );

    // A developer of the organisation, with the session cookie (and its CSRF
    // token, as every cookie-borne write needs): everything, and the sandbox.
    let developer = mcp_client(
        &python,
        &app,
        json!({"Cookie": staff.header(), "X-CSRF-Token": staff.csrf}),
        json!([
            {"tool": "search_apis", "arguments": {}},
            {"tool": "get_api", "arguments": {"name": "payroll"}},
            {"tool": "get_spec", "arguments": {"name": "payroll"}},
            {"tool": "call_sandbox", "arguments": {
                "name": "open-weather", "method": "GET", "path": "/forecast",
                "server": upstream, "query": {"city": "Oslo"}}},
        ]),
    )
    .await;
    assert_eq!(hit_names(call(&developer, 0)), ["open-weather", "payroll"]);
    assert_eq!(call(&developer, 1)["structured"]["name"], "payroll");
    assert!(
        call(&developer, 2)["structured"]["content"]
            .as_str()
            .unwrap()
            .contains("listPayslips")
    );
    let tried = &call(&developer, 3);
    assert_eq!(tried["is_error"], false, "{tried}");
    assert_eq!(tried["structured"]["status"], 200, "{tried}");
    assert_eq!(
        tried["structured"]["body"], "{\"sky\": \"clear\"}",
        "{tried}"
    );
    assert!(
        tried["structured"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/forecast?city=Oslo"),
        "{tried}"
    );

    // The admin token works as a bearer token too.
    let admin = mcp_client(
        &python,
        &app,
        json!({"Authorization": format!("Bearer {ADMIN_TOKEN}")}),
        json!([{"tool": "search_apis", "arguments": {"text": "payroll"}}]),
    )
    .await;
    assert_eq!(hit_names(call(&admin, 0)), ["payroll"]);

    // Every MCP request is in the audit log as an agent's, for whoever it acted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let entries = loop {
        let page: Value = app
            .get("/api/v1/audit?action=http.request&kind=agent&limit=500")
            .await
            .json()
            .await
            .unwrap();
        let entries: Vec<Value> = page["entries"].as_array().unwrap().clone();
        let actors = |name: &str| {
            entries
                .iter()
                .any(|e| e["target"] == "POST /mcp" && e["actor_name"] == name)
        };
        if (actors("anonymous") && actors("staff") && actors("admin token"))
            || std::time::Instant::now() > deadline
        {
            break entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for who in ["anonymous", "staff", "admin token"] {
        assert!(
            entries.iter().any(|e| e["target"] == "POST /mcp"
                && e["actor_name"] == who
                && e["actor_kind"] == "agent"
                && e["details"]["agent"] == "mcp"),
            "{who}: {entries:?}"
        );
    }
    // The sandbox call is audited as a try-it call of the developer.
    let tries: Value = app
        .get("/api/v1/audit?action=api.try")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        tries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor_name"] == "staff" && e["actor_kind"] == "agent"),
        "{tries}"
    );
}

#[tokio::test]
async fn mcp_refuses_foreign_origins_and_hosts_and_answers_only_post() {
    let (app, _) = portal().await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}
    });
    let post = |origin: Option<&'static str>, host: Option<&'static str>| {
        let mut request = client()
            .post(format!("{}/mcp", app.base))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(host) = host {
            request = request.header("host", host);
        }
        request.send()
    };
    let same_port = app.base.rsplit(':').next().unwrap().to_owned();
    // No Origin (an agent outside a browser) is fine; so is a page of the portal itself.
    let plain = post(None, None).await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    let answer: Value = plain.json().await.unwrap();
    assert_eq!(
        answer["result"]["serverInfo"]["name"], "portico",
        "{answer}"
    );
    let own: &'static str = Box::leak(format!("http://127.0.0.1:{same_port}").into_boxed_str());
    assert_eq!(
        post(Some(own), None).await.unwrap().status(),
        StatusCode::OK
    );
    // A page elsewhere, or a name that rebinds to this address, is refused.
    for (origin, host) in [
        (Some("http://evil.example"), None),
        (Some("null"), None),
        (None, Some("evil.example")),
    ] {
        let refused = post(origin, host).await.unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::FORBIDDEN,
            "{origin:?} {host:?}"
        );
    }
    // Stateless: no stream to GET and no session to DELETE.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = client()
            .request(method.clone(), format!("{}/mcp", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "POST");
    }
    // Not part of the documented REST API.
    let doc: Value = client()
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].get("/mcp").is_none());
}

#[tokio::test]
async fn a_private_catalogue_keeps_mcp_to_accounts() {
    let app = spawn_app(AppSpec {
        auth: portico::config::AuthSettings {
            public_catalog: false,
            ..portico::config::AuthSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let response = client()
        .post(format!("{}/mcp", app.base))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}
