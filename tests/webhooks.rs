//! Webhooks end to end: a developer's app approved for a product sets a
//! webhook, a breaking version of the product's API reaches its receiver
//! signed (Standard Webhooks) and retried after a 500, a deprecation follows,
//! and an app without an approved subscription hears nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use portico::config::WebhookSettings;
use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::identity::{Session, add_user, client, sign_in};

/// How long any one step may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn descriptor() -> &'static str {
    "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: pets\n  title: Pets API\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./pets.yaml\n"
}

fn openapi(version: &str, paths: &[&str]) -> String {
    let mut text = format!(
        "openapi: 3.0.3\ninfo: {{title: Pets, version: '{version}'}}\nservers:\n  - url: https://pets.example.com/v1\npaths:\n"
    );
    for path in paths {
        text.push_str(&format!(
            "  /{path}:\n    get:\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    text
}

/// One request the receiver got.
struct Received {
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

/// A receiver on 127.0.0.1:0 that answers 500 to its first request and 200
/// after, handing every request to the returned channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let seen = seen.clone();
            async move {
                let status = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                };
                let _ = tx.send(Received {
                    headers,
                    body,
                    answered: status.as_u16(),
                });
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("a webhook request in time")
        .expect("the receiver is running")
}

/// A JSON call as a signed-in person, or as the admin token.
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
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, value)
}

/// Checks a delivery's signature as a Standard Webhooks receiver does.
fn verify(secret: &str, received: &Received) -> bool {
    let header = |name: &str| received.headers[name].to_str().unwrap().to_owned();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(&received.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header("webhook-signature")
        .split(' ')
        .any(|candidate| candidate == expected)
}

async fn new_app(app: &TestApp, who: &Session, name: &str, plan: i64) -> i64 {
    let (status, _, created) = call(
        app,
        Some(who),
        "POST",
        "/api/v1/apps",
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/apps/{id}/subscriptions");
    let (status, _, sub) = call(
        app,
        Some(who),
        "POST",
        &path,
        Some(json!({"plan_id": plan})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    id
}

/// Waits until a delivery of `app_id` is recorded as delivered, and returns the list.
async fn delivered(app: &TestApp, who: &Session, app_id: i64, event: &str) -> Vec<Value> {
    let path = format!("/api/v1/apps/{app_id}/webhook/deliveries");
    tokio::time::timeout(PATIENCE, async {
        loop {
            let (_, _, list) = call(app, Some(who), "GET", &path, None).await;
            let list = list.as_array().cloned().unwrap_or_default();
            if list
                .iter()
                .any(|d| d["event"] == event && d["status"] == "delivered")
            {
                return list;
            }
            // The attempt is recorded just after the receiver answers.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the delivery is recorded in time")
}

#[tokio::test]
async fn subscribers_get_signed_retried_webhooks_for_breaking_versions_and_deprecations() {
    let (hook, mut rx) = receiver().await;
    let app = spawn_app(AppSpec {
        webhooks: WebhookSettings {
            allow_insecure: true,
            retry_base_secs: 0.05,
            poll_interval_ms: 50,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    app.import_catalog(&[
        ("pets-info.yaml", descriptor()),
        ("pets.yaml", &openapi("1.0.0", &["pets", "owners"])),
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
    let (status, _, product) = call(
        &app,
        Some(&olga),
        "POST",
        "/api/v1/products",
        Some(json!({"name": "pets", "title": "Pets", "apis": ["pets"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    for plan in [
        json!({"name": "free", "title": "Free"}),
        json!({"name": "pro", "title": "Pro", "approval": "manual"}),
    ] {
        let (status, _, body) = call(
            &app,
            Some(&olga),
            "POST",
            "/api/v1/products/pets/plans",
            Some(plan),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, _, product) = call(&app, Some(&olga), "GET", "/api/v1/products/pets", None).await;
    let plan = |name: &str| {
        product["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };

    // Ada's app is approved at once; Bob's only asked (manual approval).
    let ada = sign_in(&app, "ada").await;
    let bob = sign_in(&app, "bob").await;
    let ada_app = new_app(&app, &ada, "ada-app", plan("free")).await;
    let bob_app = new_app(&app, &bob, "bob-app", plan("pro")).await;

    // A URL that is not http(s) is refused with a problem.
    let webhook = format!("/api/v1/apps/{ada_app}/webhook");
    let (status, content_type, problem) = call(
        &app,
        Some(&ada),
        "PUT",
        &webhook,
        Some(json!({"url": "ftp://127.0.0.1/hook"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert!(
        problem["detail"].as_str().unwrap().contains("https"),
        "{problem}"
    );

    let (status, _, set) = call(
        &app,
        Some(&ada),
        "PUT",
        &webhook,
        Some(json!({"url": hook})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let secret = set["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{set}");
    assert_eq!(
        set["events"],
        json!(["api.breaking_change", "api.deprecated"])
    );
    let (status, _, got) = call(&app, Some(&ada), "GET", &webhook, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["secret"], secret.as_str());
    // Bob may not read it; his own app gets a webhook too.
    let (status, _, _) = call(&app, Some(&bob), "GET", &webhook, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bob_webhook = format!("/api/v1/apps/{bob_app}/webhook");
    let (status, _, _) = call(
        &app,
        Some(&bob),
        "PUT",
        &bob_webhook,
        Some(json!({"url": hook})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The app's page shows the section with the secret, and the forms.
    let page = client()
        .get(format!("{}/apps/{ada_app}", app.base))
        .header(COOKIE, ada.header())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("id=\"webhook-title\"") && html.contains(&secret),
        "{html}"
    );
    assert!(html.contains(&format!("action=\"/apps/{ada_app}/webhook/rotate-secret\"")));
    // The secret is not audited.
    let audit = app.get("/api/v1/audit?action=webhook.set").await;
    let audit = audit.text().await.unwrap();
    assert!(
        audit.contains("127.0.0.1") && !audit.contains(&secret),
        "{audit}"
    );

    // A breaking version: the first attempt gets 500, the retry 200.
    app.import_catalog(&[("pets.yaml", &openapi("2.0.0", &["pets"]))])
        .await;
    let first = next(&mut rx).await;
    let retry = next(&mut rx).await;
    assert_eq!((first.answered, retry.answered), (500, 200));
    assert_eq!(first.body, retry.body);
    assert_eq!(first.headers["webhook-id"], retry.headers["webhook-id"]);
    assert!(verify(&secret, &first) && verify(&secret, &retry));
    assert_eq!(retry.headers["content-type"], "application/json");
    assert!(
        retry.headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("Portico-Webhooks/")
    );
    let event: Value = serde_json::from_slice(&retry.body).unwrap();
    assert_eq!(event["type"], "api.breaking_change", "{event}");
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["data"]["api"], "api:default/pets");
    assert_eq!(event["data"]["title"], "Pets API");
    assert_eq!(event["data"]["version"], "2.0.0");
    assert_eq!(event["data"]["previous_version"], "1.0.0");
    assert_eq!(event["data"]["breaking"], 1);
    assert_eq!(
        event["data"]["changelog_url"],
        "/apis/default/pets/changelog"
    );
    let list = delivered(&app, &ada, ada_app, "api.breaking_change").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["attempts"], 2);
    assert_eq!(list[0]["last_status"], 200);
    assert_eq!(list[0]["event_id"], event["id"]);

    // Bob's app is not approved: the event made no delivery for it.
    let (status, _, none) = call(
        &app,
        Some(&bob),
        "GET",
        &format!("/api/v1/apps/{bob_app}/webhook/deliveries"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none, json!([]));

    // A deprecation through the API follows, signed with the same secret.
    let (status, _, body) = call(
        &app,
        None,
        "PUT",
        "/api/v1/apis/default/pets/versions/1.0.0/deprecation",
        Some(json!({"sunset": "2027-06-30", "migration": "Move to 2.0.0."})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let deprecated = next(&mut rx).await;
    assert_eq!(deprecated.answered, 200);
    assert!(verify(&secret, &deprecated));
    let event: Value = serde_json::from_slice(&deprecated.body).unwrap();
    assert_eq!(event["type"], "api.deprecated", "{event}");
    assert_eq!(event["data"]["version"], "1.0.0");
    assert_eq!(event["data"]["sunset"], "2027-06-30");
    assert_eq!(event["data"]["migration"], "Move to 2.0.0.");
    let list = delivered(&app, &ada, ada_app, "api.deprecated").await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["attempts"], 1);
}
