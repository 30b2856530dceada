//! The try-it console end to end: a real upstream (an axum server on port 0)
//! declared as the API's sandbox server, called through the portal's proxy
//! API and through the docs page's form, and every way a call is refused:
//! undeclared or loopback servers, path traversal, URLs for paths, a slow
//! upstream, a huge answer, and visitors without an account.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode as UpstreamStatus};
use axum::routing::get;
use portico::tryit::TrySettings;
use portico_tests::{ADMIN_TOKEN, AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

const SECRET: &str = "sandbox-key-3f9a";

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: echo
  title: Echo
spec:
  type: openapi
  lifecycle: production
  owner: echo-team
  definition:
    $text: ./echo.yaml
";

const SPEC: &str = r#"openapi: 3.0.3
info: {title: Echo, version: 1.0.0}
servers:
  - url: BASE/v1
    description: Sandbox
security:
  - key: []
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string, example: rex}}
    get:
      summary: Read a pet
      responses: {'200': {description: ok}}
    post:
      summary: Tag a pet
      parameters:
        - {name: tag, in: query, schema: {type: string, example: good}}
      requestBody:
        content:
          application/json:
            example: {name: Rex}
      responses: {'201': {description: tagged}}
  /slow:
    get: {summary: Never answers, responses: {'200': {description: ok}}}
  /huge:
    get: {summary: Three MiB, responses: {'200': {description: ok}}}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
"#;

const TRY: &str = "/api/v1/apis/default/echo/versions/1.0.0/try";
const HUGE: usize = 3 * 1024 * 1024;

/// Echoes what arrived: path parameter, query, the key, any cookie, the body.
async fn echo(
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> (UpstreamStatus, axum::Json<Value>) {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    (
        UpstreamStatus::CREATED,
        axum::Json(json!({
            "id": id,
            "query": query,
            "key": header("x-api-key"),
            "cookie": header("cookie"),
            "content_type": header("content-type"),
            "body": body,
        })),
    )
}

/// Starts the upstream on a free loopback port; returns its base URL.
async fn upstream() -> String {
    let app = Router::new()
        .route("/v1/pets/{id}", get(echo).post(echo))
        .route("/v1/slow", get(std::future::pending::<String>))
        .route("/v1/huge", get(|| async { vec![b'x'; HUGE] }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A portal whose catalogue holds the echo API, served by a fresh upstream,
/// and a signed-in developer.
async fn app_with_echo(tryit: TrySettings) -> (TestApp, Session, String) {
    let base = upstream().await;
    let app = spawn_app(AppSpec {
        tryit,
        ..AppSpec::default()
    })
    .await;
    app.import_catalog(&[
        ("catalog-info.yaml", CATALOG),
        ("echo.yaml", SPEC.replace("BASE", &base).as_str()),
    ])
    .await;
    add_user(&app, "dev", "developer");
    let session = sign_in(&app, "dev").await;
    (app, session, base)
}

/// Posts a call to the proxy API as the session's developer.
async fn try_call(app: &TestApp, session: &Session, call: Value) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}{TRY}", app.base))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .json(&call)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn tag_call(id: &str) -> Value {
    json!({
        "method": "POST",
        "path": "/pets/{id}",
        "server": "sandbox",
        "path_params": {"id": id},
        "query": {"tag": "good boy"},
        "body": "{\"name\":\"Rex\"}",
        "credential": SECRET,
    })
}

#[tokio::test]
async fn tryit_call_reaches_the_declared_server_with_params_body_and_the_credential() {
    let (app, session, base) = app_with_echo(TrySettings::default()).await;
    let (status, answer) = try_call(&app, &session, tag_call("42")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 201);
    assert_eq!(answer["body_encoding"], "text");
    assert_eq!(answer["truncated"], false);
    let upstream: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(upstream["id"], "42");
    assert_eq!(upstream["query"], "tag=good+boy");
    assert_eq!(
        upstream["key"], SECRET,
        "the credential goes where the scheme says"
    );
    assert_eq!(
        upstream["cookie"],
        Value::Null,
        "the portal's cookies stay home"
    );
    assert_eq!(upstream["content_type"], "application/json");
    assert_eq!(upstream["body"], "{\"name\":\"Rex\"}");
    assert!(answer["elapsed_ms"].is_u64());
    assert_eq!(answer["url"], format!("{base}/v1/pets/42?tag=good+boy"));
    assert!(
        answer["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "content-type" && h["value"] == "application/json")
    );
    let curl = answer["curl"].as_str().unwrap();
    assert!(
        curl.starts_with(&format!("curl -X POST '{base}/v1/pets/42?tag=good+boy'")),
        "{curl}"
    );
    assert!(
        curl.contains("-H 'x-api-key: ***'") && !curl.contains(SECRET),
        "{curl}"
    );

    // The call is audited, without the credential.
    let audit: Value = app
        .get("/api/v1/audit?action=api.try")
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor_name"], "dev");
    assert_eq!(entries[0]["outcome"], "success");
    assert_eq!(entries[0]["details"]["status"], 201);
    assert!(!audit.to_string().contains(SECRET));
}

#[tokio::test]
async fn tryit_refuses_undeclared_and_loopback_servers_saying_why() {
    let (app, session, _) = app_with_echo(TrySettings::default()).await;
    let mut call = tag_call("1");
    call["server"] = json!("https://evil.example.com");
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "https://evil.example.com is not a server declared for default/echo 1.0.0"
        ) && detail.contains("only calls declared servers")
            && detail.contains("sandbox (http://127.0.0.1:"),
        "{detail}"
    );

    // A loopback address is reachable only as the exact declared server.
    let other = upstream().await;
    let mut call = tag_call("1");
    call["server"] = json!(format!("{other}/v1"));
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("not a server declared")
    );

    // A URL for a path is not a way around the list.
    let mut call = tag_call("1");
    call["path"] = json!(format!("{other}/v1/pets/1"));
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("never a URL"));

    // Nor is an operation the spec does not have.
    let mut call = tag_call("1");
    call["path"] = json!("/admin");
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(
        problem["detail"],
        "the spec of default/echo 1.0.0 has no operation POST /admin"
    );
}

#[tokio::test]
async fn tryit_refuses_path_traversal_and_proxy_headers() {
    let (app, session, _) = app_with_echo(TrySettings::default()).await;
    let (status, problem) = try_call(&app, &session, tag_call("..")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(
        problem["detail"],
        "the path parameter `id` may not be `..`: that would leave the operation's path"
    );
    // A slash stays inside its segment.
    let (status, answer) = try_call(&app, &session, tag_call("../../admin")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["url"]
            .as_str()
            .unwrap()
            .contains("/v1/pets/..%2F..%2Fadmin?")
    );

    let mut call = tag_call("1");
    call["headers"] = json!({"Host": "internal.example"});
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the header `Host` cannot be sent")
    );
}

#[tokio::test]
async fn tryit_stops_a_slow_upstream_with_a_clear_message() {
    let settings = TrySettings {
        timeout_ms: 300,
        ..TrySettings::default()
    };
    let (app, session, base) = app_with_echo(settings).await;
    let call = json!({"method": "GET", "path": "/slow", "credential": SECRET});
    let (status, problem) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    assert_eq!(
        problem["detail"],
        format!("{base}/v1 did not answer within 300 ms ([tryit] timeout_ms)")
    );
}

#[tokio::test]
async fn tryit_caps_a_huge_response_and_says_so() {
    let (app, session, _) = app_with_echo(TrySettings::default()).await;
    let call = json!({"method": "GET", "path": "/huge"});
    let (status, answer) = try_call(&app, &session, call).await;
    assert_eq!(status, StatusCode::OK, "{}", answer["detail"]);
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["truncated"], true);
    assert_eq!(answer["body_bytes"], 1024 * 1024);
    assert_eq!(answer["body"].as_str().unwrap().len(), 1024 * 1024);
}

/// The `value` of the input named `name` in a page.
fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in the page"))
        + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn tryit_form_on_the_docs_page_posts_and_shows_the_result() {
    let (app, session, base) = app_with_echo(TrySettings::default()).await;
    let docs = client()
        .get(format!("{}/apis/default/echo/docs", app.base))
        .header(COOKIE, session.header())
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.unwrap();
    let form_at = html
        .find("<span class=\"mono\">POST /pets/{id}</span>")
        .expect("a form for POST /pets/{id}");
    let form = &html[form_at..];
    assert!(form.contains("action=\"/apis/default/echo/versions/1.0.0/try\""));
    assert_eq!(input_value(form, "csrf"), session.csrf);
    assert_eq!(
        input_value(form, "path.id"),
        "rex",
        "prefilled from the spec"
    );
    assert_eq!(input_value(form, "query.tag"), "good");
    assert!(form.contains("<option value=\"sandbox\" selected>"));
    assert!(form.contains("&#34;name&#34;: &#34;Rex&#34;"), "{form}");
    assert!(form.contains("API key, sent in the X-Api-Key header"));
    assert!(!html.to_lowercase().contains("<script"));

    let post = |fields: Vec<(&'static str, String)>| {
        client()
            .post(format!("{}/apis/default/echo/versions/1.0.0/try", app.base))
            .header(COOKIE, session.header())
            .form(&fields)
            .send()
    };
    let fields = |server: &str| {
        vec![
            ("csrf", session.csrf.clone()),
            ("method", "POST".into()),
            ("path", "/pets/{id}".into()),
            ("anchor", "op-tag".into()),
            ("server", server.to_owned()),
            ("path.id", "7".into()),
            ("query.tag", "best".into()),
            ("headers", "X-Trace: t-1".into()),
            ("content_type", "application/json".into()),
            ("body", "{\"name\":\"Rex\"}".into()),
            ("credential", SECRET.into()),
        ]
    };
    let result = post(fields("sandbox")).await.unwrap();
    assert_eq!(result.status(), StatusCode::OK);
    assert_eq!(result.headers()["cache-control"], "no-store");
    let page = result.text().await.unwrap();
    assert!(
        page.contains("Response <span class=\"mono try-status\">201</span>"),
        "{page}"
    );
    assert!(page.contains(&format!("{base}/v1/pets/7?tag=best")));
    assert!(
        page.contains("&#34;key&#34;:&#34;sandbox-key-3f9a&#34;"),
        "the upstream's echo is shown, escaped"
    );
    assert!(page.contains("curl -X POST"));
    assert!(page.contains("x-api-key: ***"));
    // Sent again, prefilled with what was sent; the credential is not echoed into the form.
    assert_eq!(input_value(&page, "path.id"), "7");
    assert_eq!(input_value(&page, "query.tag"), "best");
    assert!(page.contains(">X-Trace: t-1</textarea>"));
    assert!(!page.contains(&format!("value=\"{SECRET}\"")));

    // A server that is not declared: the page says why.
    let refused = post(fields("http://169.254.169.254")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(page.contains("The call was not made"));
    assert!(
        page.contains("http://169.254.169.254 is not a server declared for default/echo 1.0.0")
    );

    // Without the CSRF token, nothing is sent.
    let mut forged = fields("sandbox");
    forged.remove(0);
    let forged = post(forged).await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tryit_needs_an_account() {
    let (app, _, _) = app_with_echo(TrySettings::default()).await;
    let api = client()
        .post(format!("{}{TRY}", app.base))
        .json(&tag_call("1"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let page = client()
        .post(format!("{}/apis/default/echo/versions/1.0.0/try", app.base))
        .form(&[("method", "GET"), ("path", "/pets/{id}"), ("path.id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert!(
        page.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/auth/login")
    );
    // Visitors read the docs with a way to sign in, and no forms.
    let docs = client()
        .get(format!("{}/apis/default/echo/docs", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("<a href=\"/auth/login?next=%2Fapis%2Fdefault%2Fecho%2Fversions%2F1.0.0%2Fdocs\">Sign in</a>"));
    assert!(!docs.contains("class=\"try-form\""));
    // The admin token may call the API.
    let token = client()
        .post(format!("{}{TRY}", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&tag_call("1"))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
}
