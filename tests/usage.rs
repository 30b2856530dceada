//! Usage analytics and billing against the real server: verifications
//! become usage each reader sees in their own scope, Kong's http-log pushes
//! become usage counted per source, and an ended billing period is
//! invoiced by the bundled `billing-standard` plugin (JSON, CSV and the
//! running total of the current period).
//!
//! The usage writer is asynchronous (it writes batches every ~10 ms), so a
//! test polls `/api/v1/usage` until the calls it made appear, with a deadline.

use std::time::{Duration, Instant};

use portico::config::{GatewaySettings, UsageSettings};
use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};
use crate::verify::{CATALOG as PETS_CATALOG, app_on, new_key, secret, spec, sql, verify};

const DAY_MS: i64 = 86_400_000;
const PROBLEM: &str = "application/problem+json";
/// How long a test waits for a background writer or upkeep round.
const DEADLINE: Duration = Duration::from_secs(20);

/// The Kong credential of `tests/kong/http-log.json`, as the connector
/// refers to it (`<consumer username>/<key-auth id>`).
const KONG_CREDENTIAL: &str = "foo/c62c1455-9b1d-4f2d-8797-509ba83b8ae8";

/// The `httpbin` API, found on the gateway `kong` as the Kong service of
/// the http-log example: the annotations are the ones a sync of that
/// gateway writes (`gateways/entities.rs`), set here by the catalogue file
/// so no stand-in Kong Admin API is needed.
const HTTPBIN_CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: httpbin
  title: httpbin
  annotations:
    portico.dev/gateway: kong
    portico.dev/gateway-api-id: 167290ee-c682-4ebf-bdea-e49a3ac5e260
spec:
  type: openapi
  lifecycle: production
  owner: platform
  definition:
    $text: ./httpbin.yaml
";

const HTTPBIN_SPEC: &str = "openapi: 3.0.3
info: {title: httpbin, version: 1.0.0}
servers:
  - url: http://localhost:8000/log
paths:
  /anything:
    get:
      summary: Anything
      responses: {'200': {description: ok}}
";

/// Kong's http-log example entry (`tests/kong/http-log.json`, from Kong's
/// documentation of the log format), with its `started_at` replaced by
/// `started_at` (milliseconds): the recorded 2021 time is past every
/// retention and outside every default range.
fn kong_entry(started_at: i64) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kong/http-log.json");
    let mut entry: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    entry["started_at"] = json!(started_at);
    entry
}

/// A JSON call as a signed-in person (with the CSRF header) or, with no
/// session, as the admin token: status, content type and body.
async fn call(
    app: &TestApp,
    who: Option<&Session>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut request = client().request(method.parse().unwrap(), format!("{}{path}", app.base));
    request = match who {
        Some(session) => request
            .header(COOKIE, session.header())
            .header("x-csrf-token", &session.csrf),
        None => request.bearer_auth(&app.admin_token),
    };
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A GET that must succeed: its JSON body.
async fn get_ok(app: &TestApp, who: Option<&Session>, path: &str) -> Value {
    let (status, _, body) = call(app, who, "GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Polls `GET path` until `done` holds of its answer; panics with the last
/// answer after [`DEADLINE`].
async fn poll(
    app: &TestApp,
    who: Option<&Session>,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let body = get_ok(app, who, path).await;
        if done(&body) {
            return body;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "GET {path} never got there: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A response that must be a problem+json with `status`.
fn assert_problem(answer: &(StatusCode, String, Value), status: StatusCode) {
    let (got, content_type, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(content_type, PROBLEM, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
}

/// `(group, label, calls)` of each series of a usage answer.
fn groups(usage: &Value) -> Vec<(String, String, u64)> {
    usage["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["group"].as_str().unwrap().to_owned(),
                s["label"].as_str().unwrap().to_owned(),
                s["calls"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Latency percentiles that are present and ordered: (p50, p95, p99).
fn latency(of: &Value) -> (f64, f64, f64) {
    let l = &of["latency_ms"];
    let (p50, p95, p99) = (
        l["p50"].as_f64().unwrap_or_else(|| panic!("no p50: {of}")),
        l["p95"].as_f64().unwrap(),
        l["p99"].as_f64().unwrap(),
    );
    assert!(0.0 <= p50 && p50 <= p95 && p95 <= p99, "{of}");
    (p50, p95, p99)
}

/// The signed-in owner `olga` makes a product of `apis` with `plans`;
/// returns the plans' ids by name.
async fn owned_product(
    app: &TestApp,
    olga: &Session,
    name: &str,
    apis: &[&str],
    plans: &[Value],
) -> Vec<(String, i64)> {
    let (status, _, product) = call(
        app,
        Some(olga),
        "POST",
        "/api/v1/products",
        Some(json!({"name": name, "title": name, "apis": apis})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let mut ids = Vec::new();
    for plan in plans {
        let (status, _, made) = call(
            app,
            Some(olga),
            "POST",
            &format!("/api/v1/products/{name}/plans"),
            Some(plan.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        ids.push((
            plan["name"].as_str().unwrap().to_owned(),
            made["id"].as_i64().unwrap(),
        ));
    }
    ids
}

/// A Kong gateway `name` whose connector only reads pushed usage: no sync,
/// no key provisioning, an Admin API nobody calls.
fn kong_gateway(name: &str, usage_token: Option<&str>) -> GatewaySettings {
    let token = usage_token.map_or(String::new(), |t| format!("usage_token = \"{t}\"\n"));
    let text = format!(
        "name = \"{name}\"\nconnector = \"connector-kong\"\nsync_interval = \"off\"\nkeys = \"none\"\n\
         {token}[config]\nadmin_url = \"http://127.0.0.1:9\"\nproxy_url = \"http://localhost:8000\"\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A file in a fresh directory holding `value`, as `file:PATH`.
fn secret_file(dir: &tempfile::TempDir, value: &str) -> String {
    let path = dir.path().join("usage-token");
    std::fs::write(&path, value).unwrap();
    format!("file:{}", path.display())
}

/// Pushes `body` to `/api/v1/gateways/{gateway}/usage` with `token`.
async fn push(
    app: &TestApp,
    gateway: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, String, Value) {
    let mut request = client()
        .post(format!("{}/api/v1/gateways/{gateway}/usage", app.base))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        content_type,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `/api/v1/usage/sources` row of `source`.
async fn source(app: &TestApp, source: &str) -> Value {
    let sources = get_ok(app, None, "/api/v1/usage/sources").await;
    sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == source)
        .cloned()
        .unwrap_or_else(|| panic!("no source {source}: {sources}"))
}

#[tokio::test]
async fn verifications_become_usage_that_each_reader_sees_in_their_own_scope() {
    let app = spawn_app(AppSpec::default()).await;
    app.import_catalog(&[
        ("catalog-info.yaml", PETS_CATALOG),
        ("pets.yaml", &spec("http://edge.example.com")),
    ])
    .await;
    for (name, role) in [
        ("olga", "api-owner"),
        ("ada", "developer"),
        ("bob", "developer"),
    ] {
        add_user(&app, name, role);
    }
    let olga = sign_in(&app, "olga").await;
    let plans = owned_product(
        &app,
        &olga,
        "pets",
        &["default/pets"],
        &[
            json!({"name": "free", "title": "Free"}),
            json!({"name": "burst", "title": "Burst", "rate_limit": 2, "rate_period_secs": 3600}),
        ],
    )
    .await;
    let (ada, bob) = (sign_in(&app, "ada").await, sign_in(&app, "bob").await);
    let base = app.base.as_str();
    let production = json!({"name": "prod", "environment": "production"});

    // `main`: three allowed calls, and a read-only key that may not POST.
    let (main, _) = app_on(base, &ada, "main", Some(plans[0].1)).await;
    let key = secret(&new_key(base, &ada, main, production.clone()).await);
    let reader = new_key(
        base,
        &ada,
        main,
        json!({"name": "reader", "environment": "production", "scopes": ["read"]}),
    )
    .await;
    for _ in 0..3 {
        let (status, _, body) = verify(base, "?api=default/pets", &[("x-api-key", &key)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, _) = verify(
        base,
        "?api=default/pets",
        &[
            ("x-api-key", &secret(&reader)),
            ("x-forwarded-method", "POST"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // `burst`: two allowed calls, then the rate limit.
    let (burst, _) = app_on(base, &ada, "burst", Some(plans[1].1)).await;
    let burst_key = secret(&new_key(base, &ada, burst, production).await);
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (status, _, _) = verify(base, "?api=default/pets", &[("x-api-key", &burst_key)]).await;
        assert_eq!(status, expected);
    }
    // A key nobody issued belongs to no app: it is not usage of anyone's.
    let forged = format!("pt_live_{}:{}", "A".repeat(12), "A".repeat(28));
    let (status, _, _) = verify(base, "?api=default/pets", &[("x-api-key", &forged)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The developer: their seven calls by status class, per minute.
    let path = "/api/v1/usage?group_by=status_class&granularity=minute";
    let mine = poll(&app, Some(&ada), path, |u| u["calls"] == 7).await;
    assert_eq!(
        (mine["view"].as_str(), mine["errors"].as_u64()),
        (Some("mine"), Some(2))
    );
    assert_eq!(
        groups(&mine),
        [
            ("2xx".to_owned(), "2xx".to_owned(), 5),
            ("4xx".to_owned(), "4xx".to_owned(), 2)
        ]
    );
    latency(&mine);
    for series in mine["series"].as_array().unwrap() {
        let (_, _, p99) = latency(series);
        assert!(
            p99 < 10_000.0,
            "a verification takes well under 10 s: {series}"
        );
        let points = series["points"].as_array().unwrap();
        assert!(!points.is_empty());
        let mut sum = 0;
        for point in points {
            assert!(
                point["at"].as_str().unwrap().ends_with(":00Z"),
                "minute buckets: {point}"
            );
            latency(point);
            sum += point["calls"].as_u64().unwrap();
        }
        assert_eq!(Some(sum), series["calls"].as_u64(), "{series}");
    }
    // One key's calls, and one app's.
    let one_key = get_ok(
        &app,
        Some(&ada),
        &format!("/api/v1/usage?key={}", reader["id"]),
    )
    .await;
    assert_eq!(
        (one_key["calls"].as_u64(), one_key["errors"].as_u64()),
        (Some(1), Some(1))
    );
    let one_app = get_ok(&app, Some(&ada), &format!("/api/v1/usage?app={burst}")).await;
    assert_eq!(
        (one_app["calls"].as_u64(), one_app["errors"].as_u64()),
        (Some(3), Some(1))
    );

    // Another developer sees none of it, and not the first one's app or key.
    let theirs = get_ok(&app, Some(&bob), path).await;
    assert_eq!(
        (theirs["view"].as_str(), theirs["calls"].as_u64()),
        (Some("mine"), Some(0))
    );
    assert_eq!(theirs["series"], json!([]));
    let answer = call(
        &app,
        Some(&bob),
        "GET",
        &format!("/api/v1/usage?app={main}"),
        None,
    )
    .await;
    assert_problem(&answer, StatusCode::NOT_FOUND);
    let answer = call(
        &app,
        Some(&bob),
        "GET",
        &format!("/api/v1/usage?key={}", reader["id"]),
        None,
    )
    .await;
    assert_problem(&answer, StatusCode::NOT_FOUND);
    let answer = call(&app, Some(&bob), "GET", "/api/v1/usage?view=all", None).await;
    assert_problem(&answer, StatusCode::FORBIDDEN);

    // The product's owner: every consumer's calls to their API, by app name.
    let owned = get_ok(&app, Some(&olga), "/api/v1/usage?view=owned&group_by=app").await;
    assert_eq!(
        (owned["view"].as_str(), owned["calls"].as_u64()),
        (Some("owned"), Some(7))
    );
    assert_eq!(
        groups(&owned),
        [
            (main.to_string(), "main".to_owned(), 4),
            (burst.to_string(), "burst".to_owned(), 3)
        ]
    );
    let by_api = get_ok(&app, Some(&olga), "/api/v1/usage?view=owned&group_by=api").await;
    assert_eq!(
        groups(&by_api),
        [(
            "api:default/pets".to_owned(),
            "api:default/pets".to_owned(),
            7
        )]
    );
    // ... who holds no app of their own.
    let own = get_ok(&app, Some(&olga), "/api/v1/usage").await;
    assert_eq!(
        (own["view"].as_str(), own["calls"].as_u64()),
        (Some("mine"), Some(0))
    );

    // The admin token sees every call by default.
    let all = get_ok(&app, None, "/api/v1/usage?group_by=app").await;
    assert_eq!(
        (all["view"].as_str(), all["calls"].as_u64()),
        (Some("all"), Some(7))
    );
    assert_eq!(groups(&all).len(), 2, "{all}");
    // Nobody signed in sees nothing.
    let response = client()
        .get(format!("{base}/api/v1/usage"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn kong_http_log_pushes_become_usage_counted_per_source() {
    let secrets = tempfile::tempdir().unwrap();
    let token = "kong-usage-token";
    let app = spawn_app(AppSpec {
        gateways: vec![
            kong_gateway("kong", Some(&secret_file(&secrets, token))),
            kong_gateway("quiet", None),
        ],
        ..AppSpec::default()
    })
    .await;
    app.import_catalog(&[
        ("catalog-info.yaml", HTTPBIN_CATALOG),
        ("httpbin.yaml", HTTPBIN_SPEC),
    ])
    .await;
    let at = portico::usage::now_ms() - 60_000;
    let entry = kong_entry(at);

    // One object, as http-log sends it without batching.
    let answer = push(&app, "kong", Some(token), &entry.to_string()).await;
    assert_eq!(
        (answer.0, &answer.2),
        (StatusCode::ACCEPTED, &json!({"accepted": 1}))
    );
    // A batch (an array): the same request twice in one millisecond is one
    // record of two calls; the failed one is a record of its own.
    let mut failed = entry.clone();
    failed["response"]["status"] = json!(503);
    let batch = json!([entry, entry, failed]).to_string();
    let answer = push(&app, "kong", Some(token), &batch).await;
    assert_eq!(
        (answer.0, &answer.2),
        (StatusCode::ACCEPTED, &json!({"accepted": 2}))
    );

    // Four calls, the API the gateway's service is, Kong's measured latency.
    let usage = poll(&app, None, "/api/v1/usage?group_by=api", |u| {
        u["calls"] == 4
    })
    .await;
    assert_eq!(usage["errors"], 1, "{usage}");
    assert_eq!(
        groups(&usage),
        [(
            "api:default/httpbin".to_owned(),
            "api:default/httpbin".to_owned(),
            4
        )]
    );
    let (p50, _, p99) = latency(&usage);
    // http-log's `latencies.request` is 515 ms in every entry.
    assert!((p50 - 515.0).abs() <= 515.0 * 0.02, "{usage}");
    assert!((p99 - 515.0).abs() <= 515.0 * 0.02, "{usage}");
    let point = &usage["series"][0]["points"][0];
    assert_eq!(
        point["bytes"],
        4 * 827,
        "every response's size, the failed one's too: {usage}"
    );
    let by_class = get_ok(&app, None, "/api/v1/usage?group_by=status_class").await;
    assert_eq!(
        groups(&by_class),
        [
            ("2xx".to_owned(), "2xx".to_owned(), 3),
            ("5xx".to_owned(), "5xx".to_owned(), 1)
        ]
    );
    let kong = source(&app, "gateway:kong").await;
    assert_eq!(
        (kong["accepted"].as_i64(), kong["rejected"].as_i64()),
        (Some(3), Some(0)),
        "{kong}"
    );
    assert!(
        kong["last_error"].is_null() && kong["last_seen_at"].as_i64() > Some(0),
        "{kong}"
    );

    // What Kong cannot have sent: refused and counted, the earlier counts kept.
    let answer = push(&app, "kong", Some(token), "<html>").await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
    let answer = push(
        &app,
        "kong",
        Some(token),
        &json!([{"nothing": "logged"}]).to_string(),
    )
    .await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
    let kong = source(&app, "gateway:kong").await;
    assert_eq!(
        (kong["accepted"].as_i64(), kong["rejected"].as_i64()),
        (Some(3), Some(2)),
        "{kong}"
    );
    assert!(
        kong["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("not a Kong log payload")),
        "{kong}"
    );
    assert!(kong["last_error_at"].as_i64() > Some(0), "{kong}");
    let still = get_ok(&app, None, "/api/v1/usage").await;
    assert_eq!(still["calls"], 4, "{still}");

    // No token, a wrong one, a gateway that takes no pushes, no such
    // gateway: all alike a 401, so a caller without the token learns
    // nothing about which gateways exist; nothing is read or counted.
    let body = entry.to_string();
    for (gateway, presented) in [
        ("kong", None),
        ("kong", Some("kong-usage-tokeN")),
        ("kong", Some("")),
        ("quiet", Some(token)),
        ("nowhere", Some(token)),
    ] {
        let answer = push(&app, gateway, presented, &body).await;
        assert_problem(&answer, StatusCode::UNAUTHORIZED);
    }
    let kong = source(&app, "gateway:kong").await;
    assert_eq!(
        (kong["accepted"].as_i64(), kong["rejected"].as_i64()),
        (Some(3), Some(2)),
        "{kong}"
    );
    let sources = get_ok(&app, None, "/api/v1/usage/sources").await;
    assert_eq!(
        sources.as_array().unwrap().len(),
        1,
        "refused pushes count nowhere: {sources}"
    );
}

#[tokio::test]
async fn an_ended_billing_period_is_invoiced_and_the_current_one_runs() {
    let secrets = tempfile::tempdir().unwrap();
    let token = "kong-usage-token";
    let app = spawn_app(AppSpec {
        gateways: vec![kong_gateway("kong", Some(&secret_file(&secrets, token)))],
        usage: UsageSettings {
            upkeep_interval_secs: 1,
            ..UsageSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    app.import_catalog(&[
        ("catalog-info.yaml", HTTPBIN_CATALOG),
        ("httpbin.yaml", HTTPBIN_SPEC),
    ])
    .await;
    for (name, role) in [
        ("olga", "api-owner"),
        ("ada", "developer"),
        ("bob", "developer"),
    ] {
        add_user(&app, name, role);
    }
    let olga = sign_in(&app, "olga").await;

    // A billing plan that does not exist names the ones that do.
    owned_product(&app, &olga, "bins", &["default/httpbin"], &[]).await;
    let plans = "/api/v1/products/bins/plans";
    let draft =
        |billing: &str| Some(json!({"name": "growth", "title": "Growth", "billing": billing}));
    let answer = call(
        &app,
        Some(&olga),
        "POST",
        plans,
        draft("billing-standard/platinum"),
    )
    .await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
    let detail = answer.2["detail"].as_str().unwrap();
    assert!(detail.contains("free, tiered, usage"), "{detail}");
    let answer = call(&app, Some(&olga), "POST", plans, draft("stripe/tiered")).await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
    assert!(
        answer.2["detail"]
            .as_str()
            .unwrap()
            .contains("billing-standard"),
        "{}",
        answer.2
    );
    let (status, _, plan) = call(
        &app,
        Some(&olga),
        "POST",
        plans,
        draft("billing-standard/tiered"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["billing"], "billing-standard/tiered");

    let ada = sign_in(&app, "ada").await;
    let base = app.base.as_str();
    let (metered, subscription) = app_on(base, &ada, "metered", plan["id"].as_i64()).await;
    let subscription = subscription.unwrap();
    let key = new_key(
        base,
        &ada,
        metered,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;

    // 35 days ago the app called through Kong with its key. The portal
    // knows a Kong credential as the key's `key_credentials` row, which
    // provisioning writes (`tests/kong.rs` provisions through a stand-in
    // Kong); written here as provisioning would, for the credential of the
    // http-log example.
    let now = portico::usage::now_ms();
    sql(
        &app,
        &format!(
            "INSERT INTO key_credentials (key_id, gateway, credential_ref, status, updated_at)
             VALUES ({}, 'kong', '{KONG_CREDENTIAL}', 'provisioned', {})",
            key["id"],
            now / 1000
        ),
    );
    let entry = kong_entry(now - 35 * DAY_MS);
    let mut failed = entry.clone();
    failed["response"]["status"] = json!(503);
    let answer = push(
        &app,
        "kong",
        Some(token),
        &json!([entry, entry, entry, failed]).to_string(),
    )
    .await;
    assert_eq!(
        (answer.0, &answer.2),
        (StatusCode::ACCEPTED, &json!({"accepted": 2}))
    );
    // And 1.2 million calls a day earlier: as http-log entries that would be
    // gigabytes of JSON, so they are the day roll-up row the writer would
    // have made of them, which is what billing reads.
    let bulk_day = (now - 36 * DAY_MS) - (now - 36 * DAY_MS).rem_euclid(DAY_MS);
    sql(
        &app,
        &format!(
            "INSERT INTO usage_by_consumer (granularity, bucket_ms, app_id, key_id, api_ref, operation,
                 status_class, calls, errors, bytes, latency)
             VALUES ('day', {bulk_day}, {metered}, {}, 'api:default/httpbin', 'GET /anything', 2,
                 1200000, 0, 0, x'')",
            key["id"]
        ),
    );
    let usage = format!(
        "/api/v1/usage?app={metered}&granularity=day&from={}",
        day(now - 40 * DAY_MS)
    );
    let seen = poll(&app, Some(&ada), &usage, |u| u["calls"] == 1_200_004).await;
    assert_eq!(seen["errors"], 1, "{seen}");

    // Nothing has ended yet. The subscription is moved 40 days back in the
    // server's own database (the test owns its data directory), so that its
    // first 30-day period ended 10 days ago, holding those calls; a test
    // cannot wait a month. Usage was recorded first, so no round can issue
    // the period before all of it is there.
    assert_eq!(
        get_ok(&app, Some(&ada), "/api/v1/invoices").await,
        json!([])
    );
    sql(
        &app,
        &format!(
            "UPDATE subscriptions SET decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days'),
                 requested_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')
             WHERE id = {subscription}"
        ),
    );
    let invoices = poll(&app, Some(&ada), "/api/v1/invoices", |i| i != &json!([])).await;
    // Periods start on the UTC day of the approval, as stored.
    let approved_ms: i64 = app
        .server
        .state
        .db()
        .conn()
        .query_row(
            "SELECT CAST(strftime('%s', decided_at) AS INTEGER) * 1000 FROM subscriptions WHERE id = ?1",
            [subscription],
            |r| r.get(0),
        )
        .unwrap();
    let anchor = approved_ms - approved_ms.rem_euclid(DAY_MS);
    let invoice = &invoices[0];
    assert_eq!(invoices.as_array().unwrap().len(), 1, "{invoices}");
    assert_eq!(
        (
            invoice["status"].as_str(),
            invoice["currency"].as_str(),
            invoice["app"].as_str(),
            invoice["app_id"].as_i64(),
            invoice["product"].as_str(),
            invoice["plan"].as_str(),
            invoice["billing"].as_str(),
        ),
        (
            Some("issued"),
            Some("EUR"),
            Some("metered"),
            Some(metered),
            Some("bins"),
            Some("growth"),
            Some("billing-standard/tiered")
        ),
        "{invoice}"
    );
    assert_eq!(invoice["period_start"], rfc3339(anchor), "{invoice}");
    assert_eq!(
        invoice["period_end"],
        rfc3339(anchor + 30 * DAY_MS),
        "{invoice}"
    );
    // 1,200,003 successful calls (the failed one is not billed): the base
    // fee, 100,000 included, 900 thousands at 0.40, then 200,003 calls are
    // 201 started thousands at 0.25.
    let lines: Vec<(String, u64, i64, i64)> = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let line = (
                l["description"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap(),
                l["unit_price"].as_i64().unwrap(),
                l["amount"].as_i64().unwrap(),
            );
            assert_eq!(
                line.1 as i64 * line.2,
                line.3,
                "amount is quantity × unit price: {l}"
            );
            line
        })
        .collect();
    let expected = [
        ("Base fee", 1, 4_900, 4_900),
        ("Calls included in the Growth plan", 100_000, 0, 0),
        ("Calls 100,001–1,000,000 (per 1,000)", 900, 40, 36_000),
        ("Calls over 1,000,000 (per 1,000)", 201, 25, 5_025),
    ]
    .map(|(d, q, u, a)| (d.to_owned(), q, u, a));
    assert_eq!(lines, expected);
    assert_eq!(invoice["total_minor"], 4_900 + 36_000 + 5_025);
    assert!(invoice["error"].is_null(), "{invoice}");

    // The CSV export: a row per line, the same with `Accept: text/csv`.
    let csv = |accept: bool| {
        let path = if accept {
            "/api/v1/invoices"
        } else {
            "/api/v1/invoices?format=csv"
        };
        let mut request = client()
            .get(format!("{base}{path}"))
            .header(COOKIE, ada.header());
        if accept {
            request = request.header(ACCEPT, "text/csv");
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let content_type = response.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(content_type.starts_with("text/csv"), "{content_type}");
            response.text().await.unwrap()
        }
    };
    let text = csv(false).await;
    assert_eq!(csv(true).await, text);
    let rows: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(
        rows[0],
        "invoice_id,app_id,app,product,plan,billing,period_start,period_end,status,currency,\
         description,quantity,unit_price_minor,amount_minor,invoice_total_minor,error"
    );
    let head = format!(
        "{},{metered},metered,bins,growth,billing-standard/tiered,{},{},issued,EUR",
        invoice["id"],
        rfc3339(anchor),
        rfc3339(anchor + 30 * DAY_MS)
    );
    assert_eq!(
        rows[1..],
        [
            format!("{head},Base fee,1,4900,4900,45925,"),
            format!("{head},Calls included in the Growth plan,100000,0,0,45925,"),
            format!("{head},\"Calls 100,001–1,000,000 (per 1,000)\",900,40,36000,45925,"),
            format!("{head},\"Calls over 1,000,000 (per 1,000)\",201,25,5025,45925,"),
        ]
    );

    // The current period: two verifications so far, within the included calls.
    for _ in 0..2 {
        let (status, _, body) = verify(
            base,
            "?api=default/httpbin",
            &[("x-api-key", &secret(&key))],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let current = poll(&app, Some(&ada), "/api/v1/invoices/current", |c| {
        c[0]["lines"][1]["quantity"] == 2
    })
    .await;
    assert_eq!(current.as_array().unwrap().len(), 1, "{current}");
    let running = &current[0];
    assert_eq!(
        (
            running["app_id"].as_i64(),
            running["billing"].as_str(),
            running["billing_name"].as_str(),
            running["currency"].as_str(),
            running["total_minor"].as_i64(),
        ),
        (
            Some(metered),
            Some("billing-standard/tiered"),
            Some("Growth"),
            Some("EUR"),
            Some(4_900)
        ),
        "{running}"
    );
    assert_eq!(
        running["period_start"],
        rfc3339(anchor + 30 * DAY_MS),
        "{running}"
    );
    assert_eq!(
        running["period_end"],
        rfc3339(anchor + 60 * DAY_MS),
        "{running}"
    );
    assert_eq!(running["lines"][0]["description"], "Base fee");

    // Still one invoice for the period after more rounds.
    let again = get_ok(&app, None, "/api/v1/invoices").await;
    assert_eq!(again.as_array().unwrap().len(), 1, "{again}");
    // The product's owner sees it; another developer sees no invoice of that app.
    let owned = get_ok(&app, Some(&olga), "/api/v1/invoices?view=owned").await;
    assert_eq!(owned.as_array().unwrap().len(), 1, "{owned}");
    let bob = sign_in(&app, "bob").await;
    assert_eq!(
        get_ok(&app, Some(&bob), "/api/v1/invoices").await,
        json!([])
    );
    let theirs = get_ok(&app, Some(&bob), &format!("/api/v1/invoices?app={metered}")).await;
    assert_eq!(theirs, json!([]));
    assert_eq!(
        get_ok(&app, Some(&bob), "/api/v1/invoices/current").await,
        json!([])
    );
    let answer = call(&app, Some(&bob), "GET", "/api/v1/invoices?view=all", None).await;
    assert_problem(&answer, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn usage_queries_that_cannot_be_answered_are_refused() {
    let app = spawn_app(AppSpec::default()).await;
    for (query, needle) in [
        (
            "from=2026-11-28&to=2026-11-28",
            "`from` must be before `to`",
        ),
        (
            "from=2026-11-28&to=2026-11-27",
            "`from` must be before `to`",
        ),
        (
            "granularity=minute&from=2025-01-01&to=2026-01-01",
            "more than 10000 minute buckets",
        ),
        ("from=yesterday", "`from` must be an RFC 3339 time"),
        ("api=pets", "`api` must be"),
        ("group_by=planet", ""),
        ("view=everyone", ""),
        ("colour=blue", ""),
    ] {
        let answer = call(&app, None, "GET", &format!("/api/v1/usage?{query}"), None).await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
        let detail = answer.2["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{query}: {detail}");
    }
    // A year by day, and an hour by minute, are fine; a 10000-bucket edge too.
    for query in [
        "granularity=day&from=2025-01-01&to=2026-01-01",
        "granularity=minute&from=2026-11-28T00:00:00Z&to=2026-11-28T01:00:00Z",
        "granularity=hour&from=2025-01-01&to=2026-02-21T16:00:00Z",
    ] {
        let usage = get_ok(&app, None, &format!("/api/v1/usage?{query}")).await;
        assert_eq!(
            (usage["calls"].as_u64(), &usage["series"]),
            (Some(0), &json!([])),
            "{query}"
        );
    }
    // The admin token holds no apps: a running total needs a person.
    let answer = call(&app, None, "GET", "/api/v1/invoices/current", None).await;
    assert_problem(&answer, StatusCode::FORBIDDEN);
    let answer = call(&app, None, "GET", "/api/v1/invoices?format=pdf", None).await;
    assert_problem(&answer, StatusCode::BAD_REQUEST);
}

/// A UTC day, `YYYY-MM-DD`, as `from` takes it.
fn day(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 to the second, as the API writes times.
fn rfc3339(ms: i64) -> String {
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        day(ms),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The (year, month, day) of a day since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn days_and_times_read_as_the_api_writes_them() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_614_232_668_342), "2021-02-25T05:57:48Z");
    assert_eq!(day(951_782_400_000), "2000-02-29");
}
