//! Self-serve access through the JSON API, end to end: an owner's products
//! and plans, developers' apps and subscriptions (approved at once or by the
//! owner), keys shown once and kept hashed, rotation and revocation, portal
//! keys checked in try-it like a gateway would, and deprovisioned accounts
//! losing their keys.

use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: shop
spec:
  type: openapi
  lifecycle: production
  owner: shop-team
  definition:
    $text: ./shop.yaml
";

const SPEC: &str = r##"openapi: 3.0.3
info: {title: Shop, version: 1.0.0}
servers:
  - url: https://shop.example.com/v1
    description: production
security:
  - key: []
paths:
  /items:
    get:
      responses:
        '200':
          description: Items
          content:
            application/json:
              schema: {type: array, items: {type: string}}
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses:
        '201': {description: Created}
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Api-Key}
"##;

/// A JSON call as a signed-in person (with the CSRF header) or as the admin token.
async fn call(
    app: &TestApp,
    who: Option<&Session>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
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
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A portal with the shop API, its owner `olga` with a product of two plans,
/// and two developers.
async fn portal() -> (TestApp, Session, Session, Session, Value) {
    let app = spawn_app(AppSpec::default()).await;
    app.import_catalog(&[("catalog-info.yaml", CATALOG), ("shop.yaml", SPEC)])
        .await;
    for (name, role) in [
        ("olga", "api-owner"),
        ("ada", "developer"),
        ("bob", "developer"),
    ] {
        add_user(&app, name, role);
    }
    let olga = sign_in(&app, "olga").await;
    let (status, product) = call(
        &app,
        Some(&olga),
        "POST",
        "/api/v1/products",
        Some(json!({"name": "shop", "title": "Shop", "apis": ["shop"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    for plan in [
        json!({"name": "free", "title": "Free", "rate_limit": 100, "quota": 3, "quota_period": "day"}),
        json!({"name": "pro", "title": "Pro", "approval": "manual"}),
    ] {
        let (status, body) = call(
            &app,
            Some(&olga),
            "POST",
            "/api/v1/products/shop/plans",
            Some(plan),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, product) = call(&app, Some(&olga), "GET", "/api/v1/products/shop", None).await;
    let ada = sign_in(&app, "ada").await;
    let bob = sign_in(&app, "bob").await;
    (app, olga, ada, bob, product)
}

fn plan_id(product: &Value, name: &str) -> i64 {
    product["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn new_app(app: &TestApp, who: &Session, name: &str) -> i64 {
    let (status, body) = call(
        app,
        Some(who),
        "POST",
        "/api/v1/apps",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn new_key(app: &TestApp, who: &Session, app_id: i64, environment: &str) -> (String, i64) {
    let (status, body) = call(
        app,
        Some(who),
        "POST",
        &format!("/api/v1/apps/{app_id}/keys"),
        Some(json!({"name": "ci", "environment": environment})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["key"].as_str().unwrap().to_owned(),
        body["id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn developers_subscribe_apps_to_plans_and_owners_decide_what_needs_approval() {
    let (app, olga, ada, bob, product) = portal().await;
    let ada_app = new_app(&app, &ada, "Ada's shop client").await;
    // The free plan approves at once.
    let (status, free) = call(
        &app,
        Some(&ada),
        "POST",
        &format!("/api/v1/apps/{ada_app}/subscriptions"),
        Some(json!({"plan_id": plan_id(&product, "free")})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{free}");
    assert_eq!(free["status"], "approved");
    // Bob's app asks for the manual plan: requested, seen by the owner.
    let bob_app = new_app(&app, &bob, "Bob's app").await;
    let (_, pro) = call(
        &app,
        Some(&bob),
        "POST",
        &format!("/api/v1/apps/{bob_app}/subscriptions"),
        Some(json!({"plan_id": plan_id(&product, "pro")})),
    )
    .await;
    assert_eq!(pro["status"], "requested");
    let (status, pending) = call(&app, Some(&olga), "GET", "/api/v1/subscriptions", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["developer"], "bob");
    // Another owner may not decide it; developers may not list approvals.
    add_user(&app, "otto", "api-owner");
    let otto = sign_in(&app, "otto").await;
    let approve = format!("/api/v1/subscriptions/{}/approve", pro["id"]);
    let (status, _) = call(&app, Some(&otto), "POST", &approve, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(&app, Some(&ada), "GET", "/api/v1/subscriptions", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The owner rejects with a note; the developer reads it; asking again works.
    let reject = format!("/api/v1/subscriptions/{}/reject", pro["id"]);
    let (status, rejected) = call(
        &app,
        Some(&olga),
        "POST",
        &reject,
        Some(json!({"note": "tell us more"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    let (status, again) = call(&app, Some(&olga), "POST", &reject, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let (_, seen) = call(
        &app,
        Some(&bob),
        "GET",
        &format!("/api/v1/apps/{bob_app}"),
        None,
    )
    .await;
    assert_eq!(seen["subscriptions"][0]["status"], "rejected");
    assert_eq!(seen["subscriptions"][0]["note"], "tell us more");
    // Apps are their owners' alone: Bob cannot read or change Ada's.
    for (method, path) in [
        ("GET", format!("/api/v1/apps/{ada_app}")),
        ("GET", format!("/api/v1/apps/{ada_app}/keys")),
        ("DELETE", format!("/api/v1/apps/{ada_app}")),
    ] {
        let (status, _) = call(&app, Some(&bob), method, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // A viewer holds no apps; bad input is named.
    let (status, body) = call(
        &app,
        Some(&ada),
        "POST",
        "/api/v1/apps",
        Some(json!({"name": "  "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = call(
        &app,
        Some(&ada),
        "POST",
        "/api/v1/apps",
        Some(json!({"name": "Ada's shop client"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = call(
        &app,
        Some(&olga),
        "POST",
        "/api/v1/products/shop/plans",
        Some(json!({"name": "zero", "title": "Zero", "quota": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn keys_are_shown_once_stored_hashed_rotated_with_an_overlap_and_revoked() {
    let (app, _olga, ada, _bob, product) = portal().await;
    let app_id = new_app(&app, &ada, "client").await;
    call(
        &app,
        Some(&ada),
        "POST",
        &format!("/api/v1/apps/{app_id}/subscriptions"),
        Some(json!({"plan_id": plan_id(&product, "free")})),
    )
    .await;
    let (key, key_id) = new_key(&app, &ada, app_id, "production").await;
    assert!(key.starts_with("pt_live_"), "{key}");
    // Listed with its prefix, never whole; nowhere in the database or the audit log.
    let (_, keys) = call(
        &app,
        Some(&ada),
        "GET",
        &format!("/api/v1/apps/{app_id}/keys"),
        None,
    )
    .await;
    assert!(!keys.to_string().contains(&key));
    assert!(key.starts_with(keys[0]["prefix"].as_str().unwrap()));
    let (_, audit) = call(&app, None, "GET", "/api/v1/audit?limit=500", None).await;
    assert!(audit.to_string().contains("key.create"));
    assert!(!audit.to_string().contains(&key));
    for file in std::fs::read_dir(app.data_dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&key),
            "a data file holds the key"
        );
    }

    // Rotation with an hour's overlap: both keys work; the old one ends with the overlap.
    let rotate = format!("/api/v1/apps/{app_id}/keys/{key_id}/rotate");
    let (status, rotated) = call(
        &app,
        Some(&ada),
        "POST",
        &rotate,
        Some(json!({"overlap_secs": 3600})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    let verify = |key: String| {
        let app = &app;
        async move {
            let response = client()
                .get(format!("{}/api/v1/keys/verify?api=default/shop", app.base))
                .header("x-api-key", key)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(verify(key.clone()).await.0, StatusCode::OK);
    let (status, grant) = verify(new_key.clone()).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["app"]["name"], "client");
    assert_eq!(grant["plan"]["name"], "free");
    let (_, keys) = call(
        &app,
        Some(&ada),
        "GET",
        &format!("/api/v1/apps/{app_id}/keys"),
        None,
    )
    .await;
    let old = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id)
        .unwrap();
    assert_eq!(old["rotated_to"], rotated["id"]);
    assert!(old["expires_at"].as_i64().is_some());
    let (status, _) = call(&app, Some(&ada), "POST", &rotate, Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "a key is rotated once");

    // Revocation takes effect at once.
    let (status, revoked) = call(
        &app,
        Some(&ada),
        "DELETE",
        &format!("/api/v1/apps/{app_id}/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revoked["status"], "revoked");
    let (status, problem) = verify(key).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["reason"], "key-revoked");

    // The quota of 3 a day counts the app's subscription, both keys together:
    // two calls made, one more passes, then 429.
    let (status, grant) = verify(new_key.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(grant["quota"]["remaining"], 0, "{grant}");
    let response = client()
        .get(format!("{}/api/v1/keys/verify?api=default/shop", app.base))
        .header("authorization", format!("Bearer {new_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().get("retry-after").is_some());
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["reason"], "quota-exceeded");
}

/// A try-it call on the shop's synthetic sandbox with this credential.
async fn try_it(app: &TestApp, who: &Session, credential: &str) -> (StatusCode, Value) {
    call(
        app,
        Some(who),
        "POST",
        "/api/v1/apis/default/shop/versions/1.0.0/try",
        Some(json!({"method": "GET", "path": "/items", "server": "synthetic", "credential": credential})),
    )
    .await
}

#[tokio::test]
async fn a_portal_key_in_try_it_is_checked_as_a_gateway_would_and_its_call_metered() {
    let (app, _olga, ada, bob, product) = portal().await;
    let app_id = new_app(&app, &ada, "client").await;
    call(
        &app,
        Some(&ada),
        "POST",
        &format!("/api/v1/apps/{app_id}/subscriptions"),
        Some(json!({"plan_id": plan_id(&product, "free")})),
    )
    .await;
    let (sandbox_key, _) = new_key(&app, &ada, app_id, "sandbox").await;
    let (live_key, _) = new_key(&app, &ada, app_id, "production").await;
    let (status, answer) = try_it(&app, &ada, &sandbox_key).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["status"], 200);
    assert!(
        !answer.to_string().contains(&sandbox_key),
        "the key is masked"
    );
    // A production key does not work on a sandbox, even the synthetic one.
    let (status, problem) = try_it(&app, &ada, &live_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("key-wrong-environment")
    );
    // An app without a subscription: its key is refused with the reason.
    let bob_app = new_app(&app, &bob, "unsubscribed").await;
    let (bob_key, _) = new_key(&app, &bob, bob_app, "sandbox").await;
    let (status, problem) = try_it(&app, &bob, &bob_key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("not-subscribed")
    );
    // A credential that is no portal key goes through as before.
    let (status, _) = try_it(&app, &bob, "any-key-will-do").await;
    assert_eq!(status, StatusCode::OK);
    // The calls are usage events with the sandbox's statuses.
    let db = app.server.state.db().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let events: Vec<(String, i64)> = loop {
        let events: Vec<(String, i64)> = db
            .conn()
            .prepare("SELECT source, status FROM usage_events ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        if events.len() >= 3 || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(
        events,
        [
            ("sandbox".into(), 200),
            ("sandbox".into(), 403),
            ("sandbox".into(), 403)
        ]
    );
}

#[tokio::test]
async fn partner_products_are_hidden_from_outsiders_and_deactivated_accounts_lose_their_keys() {
    let (app, olga, ada, _bob, _) = portal().await;
    let (status, _) = call(
        &app,
        Some(&olga),
        "POST",
        "/api/v1/products",
        Some(json!({"name": "acme-only", "title": "Acme", "visibility": "partner", "partner_groups": ["acme"], "apis": ["shop"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, acme) = call(
        &app,
        Some(&olga),
        "POST",
        "/api/v1/products/acme-only/plans",
        Some(json!({"name": "p", "title": "P"})),
    )
    .await;
    add_user(&app, "pat", "partner");
    let pat = sign_in(&app, "pat").await;
    let (_, seen) = call(&app, Some(&pat), "GET", "/api/v1/products", None).await;
    let names: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop"]);
    let pat_app = new_app(&app, &pat, "pat").await;
    let (status, _) = call(
        &app,
        Some(&pat),
        "POST",
        &format!("/api/v1/apps/{pat_app}/subscriptions"),
        Some(json!({"plan_id": acme["id"]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a hidden product's plan is not there"
    );

    // Deactivating Ada revokes her keys.
    let app_id = new_app(&app, &ada, "client").await;
    let (_, key_id) = new_key(&app, &ada, app_id, "sandbox").await;
    let ada_id: i64 = app
        .server
        .state
        .db()
        .conn()
        .query_row("SELECT id FROM users WHERE username = 'ada'", [], |r| {
            r.get(0)
        })
        .unwrap();
    portico::identity::directory::set_active(app.server.state.db(), ada_id, false).unwrap();
    let status: Option<i64> = app
        .server
        .state
        .db()
        .conn()
        .query_row(
            "SELECT revoked_at FROM api_keys WHERE id = ?1",
            [key_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(status.is_some(), "the key is revoked");
}
