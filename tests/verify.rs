//! Key verification through its JSON API (`/api/v1/keys/verify`), against
//! the real server: keys made the way developers make them (a product and
//! plans from the admin, an app, a subscription and keys from a signed-in
//! developer), then every reason a key is refused, each with its own
//! `reason`, rotation with and without an overlap, and the JSON body form.
//! The helpers here serve `forward_auth.rs` too.

use portico_tests::{TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap};
use serde_json::{Value, json};

use crate::identity::{Session, add_user, client, sign_in};

pub(crate) const VERIFY: &str = "/api/v1/keys/verify";

/// The catalogue file of the `pets` API; its spec is [`spec`].
pub(crate) const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: pets
  title: Pets
spec:
  type: openapi
  lifecycle: production
  owner: pets-team
  definition:
    $text: ./pets.yaml
";

/// The `pets` spec, declaring `edge` (`http://host:port`) as its production
/// server under `/v1` and its sandbox server under `/sandbox/v1`.
pub(crate) fn spec(edge: &str) -> String {
    format!(
        r#"openapi: 3.0.3
info: {{title: Pets, version: 1.0.0}}
servers:
  - url: {edge}/v1
    description: Production
  - url: {edge}/sandbox/v1
    description: Sandbox
paths:
  /pets/{{id}}:
    parameters:
      - {{name: id, in: path, required: true, schema: {{type: string}}}}
    get:
      summary: Read a pet
      responses: {{'200': {{description: ok}}}}
    post:
      summary: Tag a pet
      responses: {{'201': {{description: tagged}}}}
"#
    )
}

/// The plans of the `pets` product, by name.
pub(crate) struct Plans {
    /// No limits, approved at once.
    pub(crate) free: i64,
    /// Two calls an hour, all at once.
    pub(crate) burst: i64,
    /// A quota of two calls a day.
    pub(crate) metered: i64,
    /// Approved by the owner.
    pub(crate) gold: i64,
}

/// Sends `body` to `path` as the admin (the admin token).
pub(crate) async fn as_admin(base: &str, token: &str, path: &str, body: Value) -> Value {
    let response = client()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

/// Sends `body` to `path` with `method` as the signed-in developer.
pub(crate) async fn as_developer(
    base: &str,
    session: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client()
        .request(method.clone(), format!("{base}{path}"))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

/// Makes the product `pets` (the `pets` API) with its four plans.
pub(crate) async fn pets_product(base: &str, token: &str) -> Plans {
    as_admin(
        base,
        token,
        "/api/v1/products",
        json!({"name": "pets", "title": "Pets", "apis": ["default/pets"]}),
    )
    .await;
    let plan = async |body: Value| {
        as_admin(base, token, "/api/v1/products/pets/plans", body).await["id"]
            .as_i64()
            .unwrap()
    };
    Plans {
        free: plan(json!({"name": "free", "title": "Free"})).await,
        burst: plan(
            json!({"name": "burst", "title": "Burst", "rate_limit": 2, "rate_period_secs": 3600}),
        )
        .await,
        metered: plan(
            json!({"name": "metered", "title": "Metered", "quota": 2, "quota_period": "day"}),
        )
        .await,
        gold: plan(json!({"name": "gold", "title": "Gold", "approval": "manual"})).await,
    }
}

/// Makes an app subscribed to `plan` (none: no subscription); its id and the subscription's.
pub(crate) async fn app_on(
    base: &str,
    session: &Session,
    name: &str,
    plan: Option<i64>,
) -> (i64, Option<i64>) {
    let app = as_developer(
        base,
        session,
        reqwest::Method::POST,
        "/api/v1/apps",
        Some(json!({ "name": name })),
    )
    .await;
    let id = app["id"].as_i64().unwrap();
    let subscription = match plan {
        Some(plan) => Some(
            as_developer(
                base,
                session,
                reqwest::Method::POST,
                &format!("/api/v1/apps/{id}/subscriptions"),
                Some(json!({ "plan_id": plan })),
            )
            .await["id"]
                .as_i64()
                .unwrap(),
        ),
        None => None,
    };
    (id, subscription)
}

/// A new key of an app: the answer (the key in `key`, its id in `id`).
pub(crate) async fn new_key(base: &str, session: &Session, app: i64, draft: Value) -> Value {
    as_developer(
        base,
        session,
        reqwest::Method::POST,
        &format!("/api/v1/apps/{app}/keys"),
        Some(draft),
    )
    .await
}

/// The key itself, from a created-key answer.
pub(crate) fn secret(created: &Value) -> String {
    created["key"].as_str().unwrap().to_owned()
}

/// One verification: status, headers and body.
pub(crate) async fn verify(
    base: &str,
    query: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut request = client().get(format!("{base}{VERIFY}{query}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The reason of a refused verification of `key` for a GET of the `pets` API.
async fn reason(base: &str, key: &str) -> (StatusCode, String) {
    let (status, _, body) = verify(base, "?api=default/pets", &[("x-api-key", key)]).await;
    (status, body["reason"].as_str().unwrap_or("").to_owned())
}

/// A portal with the `pets` API (declared at `edge`), its product, and a
/// signed-in developer `dev`.
pub(crate) async fn pets_portal(edge: &str) -> (TestApp, Plans, Session) {
    let app = spawn_app(Default::default()).await;
    app.import_catalog(&[("catalog-info.yaml", CATALOG), ("pets.yaml", &spec(edge))])
        .await;
    let plans = pets_product(&app.base, &app.admin_token).await;
    add_user(&app, "dev", "developer");
    let session = sign_in(&app, "dev").await;
    (app, plans, session)
}

/// Runs `sql` on the portal's database.
pub(crate) fn sql(app: &TestApp, sql: &str) {
    app.server.state.db().conn().execute(sql, []).unwrap();
}

#[tokio::test]
async fn every_refusal_of_a_key_has_its_own_reason() {
    let (app, plans, dev) = pets_portal("http://edge.example.com").await;
    let base = app.base.as_str();
    let production = json!({"name": "prod", "environment": "production"});

    let (main, _) = app_on(base, &dev, "main", Some(plans.free)).await;
    let good = secret(&new_key(base, &dev, main, production.clone()).await);
    let (status, headers, grant) = verify(base, "?api=default/pets", &[("x-api-key", &good)]).await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(
        (&grant["valid"], &grant["api"], &grant["plan"]),
        (
            &json!(true),
            &json!("api:default/pets"),
            &json!({"product": "pets", "name": "free"})
        )
    );
    assert_eq!(headers["x-portico-plan"], "pets/free");
    assert_eq!(headers["x-portico-app-id"], main.to_string().as_str());

    // No key, not a key, a well-formed key nobody issued.
    let (status, headers, body) = verify(base, "?api=default/pets", &[]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("key-missing"))
    );
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(body["valid"], false);
    assert_eq!(
        reason(base, "pt_live_short").await,
        (StatusCode::UNAUTHORIZED, "key-malformed".into())
    );
    assert_eq!(
        reason(base, "sk_live_0123456789012345678901234567890123456789").await,
        (StatusCode::UNAUTHORIZED, "key-malformed".into())
    );
    let forged = format!("pt_live_{}:{}", "A".repeat(12), "A".repeat(28));
    assert_eq!(
        reason(base, &forged).await,
        (StatusCode::UNAUTHORIZED, "key-unknown".into())
    );
    // The right prefix with another secret is unknown too, not the key.
    let mut altered = good.clone();
    let last = if altered.ends_with('a') { "b" } else { "a" };
    altered.replace_range(altered.len() - 1.., last);
    assert_eq!(
        reason(base, &altered).await,
        (StatusCode::UNAUTHORIZED, "key-unknown".into())
    );

    // Expired: the expiry moved into the past in the database, before the
    // verifier has seen the key.
    let soon = new_key(base, &dev, main, production.clone()).await;
    sql(
        &app,
        &format!(
            "UPDATE api_keys SET expires_at = strftime('%s', 'now') - 1 WHERE id = {}",
            soon["id"]
        ),
    );
    assert_eq!(
        reason(base, &secret(&soon)).await,
        (StatusCode::UNAUTHORIZED, "key-expired".into())
    );

    // Revoked: refused at once.
    let doomed = new_key(base, &dev, main, production.clone()).await;
    assert_eq!(reason(base, &secret(&doomed)).await.0, StatusCode::OK);
    let revoked = as_developer(
        base,
        &dev,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{main}/keys/{}", doomed["id"]),
        None,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        reason(base, &secret(&doomed)).await,
        (StatusCode::UNAUTHORIZED, "key-revoked".into())
    );

    // No subscription, one waiting for the owner, one the owner rejected.
    let (lonely, _) = app_on(base, &dev, "lonely", None).await;
    let lonely_key = secret(&new_key(base, &dev, lonely, production.clone()).await);
    assert_eq!(
        reason(base, &lonely_key).await,
        (StatusCode::FORBIDDEN, "not-subscribed".into())
    );
    let (waiting, _) = app_on(base, &dev, "waiting", Some(plans.gold)).await;
    let waiting_key = secret(&new_key(base, &dev, waiting, production.clone()).await);
    assert_eq!(
        reason(base, &waiting_key).await,
        (StatusCode::FORBIDDEN, "subscription-pending".into())
    );
    let (refused, subscription) = app_on(base, &dev, "refused", Some(plans.gold)).await;
    let refused_key = secret(&new_key(base, &dev, refused, production.clone()).await);
    as_admin(
        base,
        &app.admin_token,
        &format!("/api/v1/subscriptions/{}/reject", subscription.unwrap()),
        json!({"note": "not for bots"}),
    )
    .await;
    assert_eq!(
        reason(base, &refused_key).await,
        (StatusCode::FORBIDDEN, "subscription-rejected".into())
    );

    // A read-only key may GET but not POST; a key scoped to another API may not call this one.
    let reader = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "reader", "environment": "production", "scopes": ["read"]}),
        )
        .await,
    );
    let (status, _, body) = verify(
        base,
        "?api=default/pets",
        &[("x-api-key", &reader), ("x-forwarded-method", "GET")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = verify(
        base,
        "?api=default/pets",
        &[("x-api-key", &reader), ("x-forwarded-method", "POST")],
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-out-of-scope"))
    );
    let elsewhere = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "orders only", "environment": "production", "scopes": ["api:default/orders"]}),
        )
        .await,
    );
    assert_eq!(
        reason(base, &elsewhere).await,
        (StatusCode::FORBIDDEN, "key-out-of-scope".into())
    );

    // A sandbox key on a production server, and the other way round.
    let sandbox = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "test", "environment": "sandbox"}),
        )
        .await,
    );
    assert!(sandbox.starts_with("pt_test_") && good.starts_with("pt_live_"));
    let (status, _, body) = verify(base, "?api=default/pets", &[("x-api-key", &sandbox)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-wrong-environment")),
        "{body}"
    );
    let (status, _, _) = verify(
        base,
        "?api=default/pets&environment=sandbox",
        &[("x-api-key", &sandbox)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = verify(
        base,
        "?api=default/pets&environment=sandbox",
        &[("x-api-key", &good)],
    )
    .await;
    assert_eq!(body["reason"], "key-wrong-environment", "{status} {body}");

    // The call's host matches no declared server and no API is named: 400.
    let (status, _, body) = verify(
        base,
        "",
        &[
            ("x-api-key", &good),
            ("x-forwarded-host", "nowhere.example.com"),
            ("x-forwarded-uri", "/v1/pets/1"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("api-unknown")),
        "{body}"
    );
    let (status, _, body) = verify(base, "", &[("x-api-key", &good)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("api-unknown")),
        "{body}"
    );

    // Rate limit and quota.
    let (burst, _) = app_on(base, &dev, "burst", Some(plans.burst)).await;
    let burst_key = secret(&new_key(base, &dev, burst, production.clone()).await);
    for _ in 0..2 {
        assert_eq!(reason(base, &burst_key).await.0, StatusCode::OK);
    }
    let (status, headers, body) =
        verify(base, "?api=default/pets", &[("x-api-key", &burst_key)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate-limited"))
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1800).contains(&wait), "{wait}");
    let (metered, _) = app_on(base, &dev, "metered", Some(plans.metered)).await;
    let metered_key = secret(&new_key(base, &dev, metered, production.clone()).await);
    let (_, headers, grant) =
        verify(base, "?api=default/pets", &[("x-api-key", &metered_key)]).await;
    assert_eq!(grant["quota"]["remaining"], 1, "{grant}");
    assert_eq!(headers["x-quota-remaining"], "1");
    assert_eq!(reason(base, &metered_key).await.0, StatusCode::OK);
    let (status, headers, body) =
        verify(base, "?api=default/pets", &[("x-api-key", &metered_key)]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("quota-exceeded"))
    );
    let reset: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&reset), "{reset}");
}

#[tokio::test]
async fn a_rotated_key_works_through_its_overlap_and_the_new_one_at_once() {
    let (app, plans, dev) = pets_portal("http://edge.example.com").await;
    let base = app.base.as_str();
    let (main, _) = app_on(base, &dev, "main", Some(plans.free)).await;
    let old = new_key(
        base,
        &dev,
        main,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;
    assert_eq!(reason(base, &secret(&old)).await.0, StatusCode::OK);

    let rotate = |id: &Value, overlap: i64| {
        let path = format!("/api/v1/apps/{main}/keys/{id}/rotate");
        let dev = dev.clone();
        async move {
            as_developer(
                base,
                &dev,
                reqwest::Method::POST,
                &path,
                Some(json!({ "overlap_secs": overlap })),
            )
            .await
        }
    };
    let new = rotate(&old["id"], 3600).await;
    assert_ne!(secret(&new), secret(&old));
    assert_eq!(new["name"], "prod");
    assert_eq!(
        reason(base, &secret(&old)).await.0,
        StatusCode::OK,
        "the overlap"
    );
    assert_eq!(reason(base, &secret(&new)).await.0, StatusCode::OK);

    // Without an overlap the old key stops at once.
    let newest = rotate(&new["id"], 0).await;
    assert_eq!(
        reason(base, &secret(&new)).await,
        (StatusCode::UNAUTHORIZED, "key-revoked".into())
    );
    assert_eq!(reason(base, &secret(&newest)).await.0, StatusCode::OK);
    assert_eq!(
        reason(base, &secret(&old)).await.0,
        StatusCode::OK,
        "still in its overlap"
    );
}

#[tokio::test]
async fn a_program_may_send_the_key_and_the_call_as_json() {
    let (app, plans, dev) = pets_portal("http://edge.example.com").await;
    let base = app.base.as_str();
    let (main, _) = app_on(base, &dev, "main", Some(plans.free)).await;
    let key = secret(
        &new_key(
            base,
            &dev,
            main,
            json!({"name": "prod", "environment": "production"}),
        )
        .await,
    );
    let post = |body: Value| async move {
        let response = client()
            .post(format!("{base}{VERIFY}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };

    let (status, grant) = post(json!({
        "key": key, "api": "default/pets", "method": "POST", "path": "/pets/7"
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert_eq!(grant["operation"], "POST /pets/{id}");
    assert_eq!(grant["key"]["environment"], "production");
    assert_eq!(grant["app"]["name"], "main");
    assert_eq!(grant["app"]["owner"], "dev");

    // Bearer works as well as X-API-Key, and the body's environment is used.
    let (status, body) =
        post(json!({"key": key, "api": "default/pets", "environment": "sandbox"})).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("key-wrong-environment"))
    );
    let response = client()
        .post(format!("{base}{VERIFY}?api=default/pets"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A body that is not a verification request, and an unknown field.
    let (status, body) = post(json!(["key"])).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad-request"))
    );
    let (status, _) = post(json!({"key": key, "api": "default/pets", "secret": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) =
        post(json!({"key": key, "api": "default/pets", "environment": "prod"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
