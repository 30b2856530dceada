//! Contract tests of the bundled `connector-kong`: the real plugin, driven
//! through the real server and runtime, against a stand-in Kong Admin API.
//!
//! Kong Gateway cannot run here (no Kong in the package registries the test
//! machines reach), so the stand-in answers with responses taken from Kong's
//! published Admin API documentation and OpenAPI specification, recorded in
//! `tests/kong/*.json` (`tests/kong/README.md` names the source of each). The
//! tests check both sides of the contract: that the connector understands
//! those answers, and which requests it makes (method, path, query, body and
//! `Kong-Admin-Token` header).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use portico::config::{GatewaySettings, PluginSettings};
use portico_runtime::CallError;
use portico_runtime::worlds::PluginError;
use portico_runtime::worlds::connector::{Capability, CredentialRequest, KeySource, RevokeMode};
use portico_tests::caddy::free_port;
use portico_tests::{AppSpec, TestApp, spawn_app};
use serde_json::{Value, json};

const CONNECTOR: &str = "connector-kong";
const SERVICE_1: &str = "a5fb8d9b-a99d-40e9-9d35-72d42a62d83a";
const SERVICE_2: &str = "fc73f2af-890d-4f9b-8363-af8945001f7f";
const SECOND_PAGE: &str = "6378122c-a0a1-438d-a5c6-efabae9fb969";
/// The key of `key-auth.json`, which the stand-in hands out as the first generated key.
const DOCUMENTED_KEY: &str = "IL1deIyHyQA40WpeLeA1bIUXuvTwlGjo";

/// A recorded answer from `tests/kong/`.
fn recorded(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("kong")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One request that reached the stand-in.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    body: Value,
    token: Option<String>,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    consumers: BTreeMap<String, Value>,
    /// Keys with the username of their consumer.
    keys: Vec<(String, Value)>,
    made: u32,
}

/// A stand-in Kong Admin API that wants `token` in `Kong-Admin-Token`.
struct FakeKong {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeKong {
    async fn start(token: &str) -> FakeKong {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let token = token.to_owned();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (state, token) = (shared.clone(), token.clone());
                async move { answer(&state, &token, method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeKong { url, state }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Method and target of every request, in order.
    fn calls(&self) -> Vec<String> {
        self.seen()
            .iter()
            .map(|s| format!("{} {}", s.method, s.target))
            .collect()
    }

    fn keys_of(&self, username: &str) -> Vec<Value> {
        let state = self.state.lock().unwrap();
        state
            .keys
            .iter()
            .filter(|(u, _)| u == username)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

fn answer(
    state: &Mutex<State>,
    token: &str,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let sent = headers
        .get("kong-admin-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut state = state.lock().unwrap();
    state.seen.push(Seen {
        method: method.to_string(),
        target: uri.path_and_query().map_or("/".into(), |p| p.to_string()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        token: sent.clone(),
    });
    if sent.as_deref() != Some(token) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(recorded("unauthorized.json")),
        )
            .into_response();
    }
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not found"})),
        )
            .into_response()
    };
    let ok = |status: StatusCode, value: Value| (status, axum::Json(value)).into_response();
    let query = uri.query().unwrap_or("");
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), segments.as_slice()) {
        ("GET", [""]) => ok(StatusCode::OK, recorded("node.json")),
        ("GET", ["services"]) if query.contains(&format!("offset={SECOND_PAGE}")) => {
            ok(StatusCode::OK, recorded("services-page-2.json"))
        }
        ("GET", ["services"]) => ok(StatusCode::OK, recorded("services-page-1.json")),
        ("GET", ["services", SERVICE_1, "routes"]) => {
            ok(StatusCode::OK, recorded("routes-my-service.json"))
        }
        ("GET", ["services", SERVICE_2, "routes"]) => {
            ok(StatusCode::OK, recorded("routes-my-other-service.json"))
        }
        ("GET", ["consumers", username]) => match state.consumers.get(*username) {
            Some(consumer) => ok(StatusCode::OK, consumer.clone()),
            None => not_found(),
        },
        ("PUT", ["consumers", username]) => {
            let mut consumer = recorded("consumer.json");
            consumer["id"] = json!(format!("consumer-{username}"));
            for field in ["username", "custom_id", "tags"] {
                consumer[field] = body[field].clone();
            }
            state
                .consumers
                .insert((*username).to_owned(), consumer.clone());
            ok(StatusCode::OK, consumer)
        }
        ("GET", ["consumers", username, "key-auth"]) => {
            let data: Vec<Value> = state
                .keys
                .iter()
                .filter(|(u, _)| u == username)
                .map(|(_, k)| k.clone())
                .collect();
            ok(StatusCode::OK, json!({"data": data, "next": null}))
        }
        ("POST", ["consumers", username, "key-auth"]) => {
            let Some(consumer) = state.consumers.get(*username).cloned() else {
                return not_found();
            };
            if let Some(value) = body["key"].as_str()
                && state.keys.iter().any(|(_, k)| k["key"] == value)
            {
                let mut error = recorded("unique-violation.json");
                error["message"] = json!(format!(
                    "UNIQUE violation detected on '{{key=\"{value}\"}}'"
                ));
                error["fields"]["key"] = json!(value);
                return ok(StatusCode::CONFLICT, error);
            }
            state.made += 1;
            let mut key = recorded("key-auth.json");
            if state.made > 1 {
                key["id"] = json!(format!("00000000-0000-4000-8000-{:012}", state.made));
                key["key"] = json!(format!("kong-generated-key-{}", state.made));
            }
            if let Some(value) = body["key"].as_str() {
                key["key"] = json!(value);
            }
            key["consumer"]["id"] = consumer["id"].clone();
            key["tags"] = body["tags"].clone();
            key["ttl"] = body["ttl"].clone();
            key["created_at"] = json!(1422386534);
            state.keys.push(((*username).to_owned(), key.clone()));
            ok(StatusCode::CREATED, key)
        }
        ("DELETE", ["consumers", username, "key-auth", id]) => {
            let before = state.keys.len();
            state
                .keys
                .retain(|(u, k)| !(u == username && k["id"] == *id));
            if state.keys.len() == before {
                not_found()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        _ => not_found(),
    }
}

/// A file holding a secret value, as `file:PATH`.
fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    format!("file:{}", path.display())
}

/// An on-demand Kong gateway called `name` for the Admin API at `url`.
fn kong_gateway(name: &str, url: &str, token: Option<&str>) -> GatewaySettings {
    let secrets = token.map_or(String::new(), |t| {
        format!("[secrets]\nadmin_token = \"{t}\"\n")
    });
    let text = format!(
        "name = \"{name}\"\nconnector = \"{CONNECTOR}\"\nsync_interval = \"off\"\ntimeout = \"5s\"\n\
         allow_private_addresses = true\nallowed_outbound_hosts = [\"{url}\"]\n\
         [config]\nadmin_url = \"{url}\"\nproxy_url = \"http://localhost:8000\"\n{secrets}"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

async fn sync(app: &TestApp, name: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/api/v1/gateways/{name}/sync", app.base))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "sync {name}");
    response.json().await.unwrap()
}

async fn json_at(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn kong_services_and_their_routes_sync_into_the_catalogue_page_by_page() {
    let kong = FakeKong::start("kong-token").await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secret_file(secrets.path(), "token", "kong-token");
    let app = spawn_app(AppSpec {
        gateways: vec![kong_gateway("kong", &kong.url, Some(&token))],
        ..AppSpec::default()
    })
    .await;

    let run = sync(&app, "kong").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (
            run["pages"].as_u64(),
            run["discovered"].as_u64(),
            run["added"].as_u64()
        ),
        (Some(2), Some(2), Some(2)),
        "{run}"
    );
    assert_eq!(
        kong.calls(),
        [
            "GET /services?size=100".to_owned(),
            format!("GET /services/{SERVICE_1}/routes?size=1000"),
            format!("GET /services?size=100&offset={SECOND_PAGE}"),
            format!("GET /services/{SERVICE_2}/routes?size=1000"),
        ]
    );
    assert!(
        kong.seen()
            .iter()
            .all(|s| s.token.as_deref() == Some("kong-token")),
        "every call carries the admin token"
    );

    // The HTTP route's hosts × paths on the proxy's port.
    let service = json_at(&app, "/api/v1/apis/default/my-service").await;
    assert_eq!(service["source"], "gateway:kong");
    let urls: Vec<&str> = service["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "http://example.com:8000/foo",
            "http://example.com:8000/bar",
            "http://foo.test:8000/foo",
            "http://foo.test:8000/bar"
        ]
    );
    let entity = json_at(&app, "/api/catalog/entities/by-name/api/default/my-service").await;
    assert_eq!(
        entity["metadata"]["annotations"]["portico.dev/gateway-api-id"],
        SERVICE_1
    );
    let tags = entity["metadata"]["tags"].to_string();
    assert!(
        tags.contains("kong") && tags.contains("low-priority"),
        "{tags}"
    );
    // A service whose only route is a stream (tcp, tls) route has no HTTP base URL.
    let other = json_at(&app, "/api/v1/apis/default/my-other-service").await;
    assert_eq!(other["environments"], json!([]), "{other}");
}

/// The connector as a plugin (not a gateway instance), so the test can call
/// its credential functions directly.
fn plugin_settings(kong: &FakeKong, token: &str) -> PluginSettings {
    PluginSettings {
        allowed_outbound_hosts: Some(vec![kong.url.clone()]),
        allow_private_addresses: true,
        config: format!("admin_url = \"{}\"", kong.url).parse().unwrap(),
        secrets: [("admin_token".to_owned(), token.to_owned())].into(),
        ..PluginSettings::default()
    }
}

fn request(app_id: &str, key: KeySource, expires_at: Option<u64>) -> CredentialRequest {
    CredentialRequest {
        app_id: app_id.into(),
        owner_id: "user:default/alice".into(),
        owner_email: Some("alice@example.com".into()),
        display_name: format!("{app_id} of Alice"),
        plan_ids: vec![],
        api_ids: vec![],
        key,
        expires_at,
        labels: vec![("portico-app".into(), app_id.into())],
    }
}

fn plugin_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test]
async fn kong_connector_issues_key_auth_keys_to_one_consumer_per_app_and_deletes_them() {
    let kong = FakeKong::start("kong-token").await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secret_file(secrets.path(), "token", "kong-token");
    let app = spawn_app(AppSpec {
        settings: vec![(CONNECTOR, plugin_settings(&kong, &token))],
        ..AppSpec::default()
    })
    .await;
    let plugin = app.plugin(CONNECTOR);

    let info = plugin.describe_gateway().await.unwrap();
    assert_eq!(
        (info.kind.as_str(), info.version.as_deref()),
        ("kong", Some("0.14.0"))
    );
    for capability in [
        Capability::Discover,
        Capability::PortalKey,
        Capability::GatewayKey,
        Capability::KeyReadback,
        Capability::KeyDelete,
        Capability::UsagePush,
    ] {
        assert!(info.capabilities.contains(&capability), "{capability:?}");
    }
    assert!(
        !info.capabilities.contains(&Capability::KeyDisable),
        "Kong's keys cannot be disabled"
    );

    // A key Kong generates, valid for a day: the consumer is made first, the
    // key carries the ttl and the app's labels as tags.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let first = plugin
        .provision_credential(&request(
            "app-1",
            KeySource::Gateway,
            Some(now + 86_400_000),
        ))
        .await
        .unwrap();
    assert_eq!(first.key.as_deref(), Some(DOCUMENTED_KEY));
    assert_eq!(
        first.credential_ref,
        "portico-app-1/b2f34145-0343-41a4-9602-4c69dec2f269"
    );
    assert!(first.readable_later && !first.pending_approval);
    let seen = kong.seen();
    let calls: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        calls[1..],
        [
            "GET /consumers/portico-app-1",
            "PUT /consumers/portico-app-1",
            "GET /consumers/portico-app-1/key-auth?size=1000",
            "POST /consumers/portico-app-1/key-auth",
        ]
    );
    assert_eq!(
        seen[2].body,
        json!({"username": "portico-app-1", "custom_id": "app-1", "tags": ["portico", "portico-app:app-1"]})
    );
    let created = &seen[4].body;
    assert_eq!(created.get("key"), None, "Kong chooses the value");
    assert_eq!(
        created["tags"],
        json!(["portico", "portico-app:app-1", "portico-generated"])
    );
    let ttl = created["ttl"].as_u64().unwrap();
    assert!((86_390..=86_400).contains(&ttl), "{ttl}");
    assert!(
        seen.iter()
            .all(|s| s.token.as_deref() == Some("kong-token"))
    );

    // A retry finds the same key and creates nothing.
    let retry = plugin
        .provision_credential(&request("app-1", KeySource::Gateway, None))
        .await
        .unwrap();
    assert_eq!(
        (&retry.credential_ref, &retry.key),
        (&first.credential_ref, &first.key)
    );
    assert_eq!(kong.keys_of("portico-app-1").len(), 1);
    let puts = kong.calls().iter().filter(|c| c.starts_with("PUT")).count();
    assert_eq!(puts, 1, "the consumer is made once");

    // A key the portal chose: sent as given, never echoed back; a retry is
    // answered 409 by Kong and found again.
    let chosen = "portal-chosen-key-0123456789";
    let second = plugin
        .provision_credential(&request("app-2", KeySource::Portal(chosen.into()), None))
        .await
        .unwrap();
    assert_eq!(second.key, None);
    assert_eq!(kong.keys_of("portico-app-2")[0]["key"], chosen);
    let again = plugin
        .provision_credential(&request("app-2", KeySource::Portal(chosen.into()), None))
        .await
        .unwrap();
    assert_eq!(again.credential_ref, second.credential_ref);
    assert_eq!(kong.keys_of("portico-app-2").len(), 1);

    // Another app asking for a value Kong holds for app-2 is a conflict,
    // and the error does not repeat the key.
    let error = plugin_error(
        plugin
            .provision_credential(&request("app-3", KeySource::Portal(chosen.into()), None))
            .await,
    );
    let PluginError::Conflict(message) = error else {
        panic!("expected a conflict, got {error:?}");
    };
    assert!(!message.contains(chosen), "{message}");

    // An expiry in the past is refused before anything is made.
    let error = plugin_error(
        plugin
            .provision_credential(&request("app-4", KeySource::Gateway, Some(now - 1000)))
            .await,
    );
    assert!(format!("{error:?}").contains("past"), "{error:?}");
    assert!(
        !kong.calls().iter().any(|c| c.contains("portico-app-4")),
        "nothing was asked of Kong"
    );

    // Both modes delete (Kong keys have no disabled state); deleting what is
    // gone counts as revoked.
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Disable)
        .await
        .unwrap();
    assert!(kong.keys_of("portico-app-1").is_empty());
    assert_eq!(
        kong.calls().last().unwrap(),
        "DELETE /consumers/portico-app-1/key-auth/b2f34145-0343-41a4-9602-4c69dec2f269"
    );
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    plugin
        .revoke_credential(&second.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    assert!(kong.keys_of("portico-app-2").is_empty());
    assert!(matches!(
        plugin_error(
            plugin
                .revoke_credential("no-slash", RevokeMode::Delete)
                .await
        ),
        PluginError::NotFound(_)
    ));
}

#[tokio::test]
async fn kong_http_log_payloads_become_usage_records_per_key() {
    let kong = FakeKong::start("kong-token").await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secret_file(secrets.path(), "token", "kong-token");
    let app = spawn_app(AppSpec {
        settings: vec![(CONNECTOR, plugin_settings(&kong, &token))],
        ..AppSpec::default()
    })
    .await;
    let plugin = app.plugin(CONNECTOR);
    let entry = recorded("http-log.json");

    // One object, as http-log sends it without batching.
    let records = plugin
        .ingest_usage("application/json", entry.to_string().as_bytes())
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.window_start_ms, 1614232668342);
    assert_eq!(record.window_seconds, 0);
    assert_eq!(
        record.credential_ref.as_deref(),
        Some("foo/c62c1455-9b1d-4f2d-8797-509ba83b8ae8")
    );
    assert_eq!(record.consumer.as_deref(), Some("foo"));
    assert_eq!(
        record.api_id.as_deref(),
        Some("167290ee-c682-4ebf-bdea-e49a3ac5e260")
    );
    assert_eq!(
        record.route.as_deref(),
        Some("78f79740-c410-4fd9-a998-d0a60a99dc9b")
    );
    assert_eq!(
        (
            record.method.as_deref(),
            record.status,
            record.requests,
            record.errors
        ),
        (Some("GET"), Some(200), 1, 0)
    );
    assert_eq!(
        (record.latency_ms_avg, record.bytes),
        (Some(515.0), Some(827))
    );

    // A batch: the same request twice in one millisecond is one record of two.
    let mut failed = entry.clone();
    failed["response"]["status"] = json!(503);
    let batch = json!([entry, entry, failed]).to_string();
    let records = plugin
        .ingest_usage("application/json", batch.as_bytes())
        .await
        .unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!((records[0].requests, records[0].bytes), (2, Some(1654)));
    assert_eq!((records[1].status, records[1].errors), (Some(503), 1));

    let error = plugin_error(plugin.ingest_usage("application/json", b"<html>").await);
    assert!(
        format!("{error:?}").contains("not a Kong log payload"),
        "{error:?}"
    );
    assert!(kong.seen().is_empty(), "ingesting calls nobody");
}

#[tokio::test]
async fn a_kong_refusing_the_token_or_down_fails_its_own_sync_and_tokens_reach_only_their_kong() {
    let a = FakeKong::start("token-a").await;
    let b = FakeKong::start("token-b").await;
    let secrets = tempfile::tempdir().unwrap();
    let down = format!("http://127.0.0.1:{}", free_port());
    let app = spawn_app(AppSpec {
        gateways: vec![
            kong_gateway(
                "a",
                &a.url,
                Some(&secret_file(secrets.path(), "a", "token-a")),
            ),
            kong_gateway(
                "wrong",
                &b.url,
                Some(&secret_file(secrets.path(), "w", "not-b")),
            ),
            kong_gateway("down", &down, None),
        ],
        ..AppSpec::default()
    })
    .await;

    let started = Instant::now();
    let (a_run, wrong, down_run) =
        tokio::join!(sync(&app, "a"), sync(&app, "wrong"), sync(&app, "down"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(a_run["status"], "succeeded", "{a_run}");

    assert_eq!(wrong["status"], "failed");
    let error = wrong["error"].as_str().unwrap();
    assert!(
        error.contains("401")
            && error.contains("Unauthorized")
            && error.contains("nothing was written"),
        "{error}"
    );
    assert!(
        !error.contains("not-b"),
        "the token stays out of errors: {error}"
    );

    assert_eq!(down_run["status"], "failed");
    let error = down_run["error"].as_str().unwrap();
    assert!(error.contains(&down), "{error}");

    assert!(
        a.seen()
            .iter()
            .all(|s| s.token.as_deref() == Some("token-a"))
    );
    assert!(b.seen().iter().all(|s| s.token.as_deref() == Some("not-b")));
    assert_eq!(
        b.calls(),
        ["GET /services?size=100"],
        "the refused sync stops at once"
    );
    let hits = json_at(&app, "/api/v1/apis?source=gateway:wrong").await;
    assert_eq!(hits["total"], 0, "{hits}");
}

#[tokio::test]
async fn the_portal_provisions_its_keys_to_kong_for_approved_subscriptions_and_deletes_them_on_revocation()
 {
    use crate::identity::{add_user, sign_in};
    use crate::verify::{app_on, as_admin, as_developer, new_key, secret};

    let kong = FakeKong::start("kong-token").await;
    let secrets = tempfile::tempdir().unwrap();
    let token = secret_file(secrets.path(), "token", "kong-token");
    let app = spawn_app(AppSpec {
        gateways: vec![kong_gateway("kong", &kong.url, Some(&token))],
        ..AppSpec::default()
    })
    .await;
    let base = app.base.as_str();
    // The gateway's services land in the catalogue with the gateway's annotations.
    assert_eq!(sync(&app, "kong").await["status"], "succeeded");
    as_admin(
        base,
        &app.admin_token,
        "/api/v1/products",
        json!({"name": "my-product", "title": "Mine", "apis": ["default/my-service"]}),
    )
    .await;
    let plan = as_admin(
        base,
        &app.admin_token,
        "/api/v1/products/my-product/plans",
        json!({"name": "free", "title": "Free"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
    let synced = kong.calls().len();

    // No approved subscription: no gateway is asked.
    let (lonely, _) = app_on(base, &dev, "lonely", None).await;
    let unprovisioned = new_key(
        base,
        &dev,
        lonely,
        json!({"name": "k", "environment": "production"}),
    )
    .await;
    assert_eq!(unprovisioned["gateways"], json!([]));
    assert_eq!(kong.calls().len(), synced);

    // Approved: the key is pushed to Kong as the portal chose it, on the app's consumer.
    let (main, _) = app_on(base, &dev, "main", Some(plan)).await;
    let created = new_key(
        base,
        &dev,
        main,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;
    let key = secret(&created);
    assert_eq!(
        created["gateways"],
        json!([{"gateway": "kong", "status": "provisioned", "error": null}]),
        "{created}"
    );
    let consumer = format!("portico-{main}");
    assert_eq!(
        kong.calls()[synced..],
        [
            format!("GET /consumers/{consumer}"),
            format!("PUT /consumers/{consumer}"),
            format!("POST /consumers/{consumer}/key-auth"),
        ]
    );
    let seen = kong.seen();
    assert_eq!(seen[synced + 1].body["custom_id"], main.to_string());
    let posted = &seen[synced + 2].body;
    assert_eq!(posted["key"], key.as_str(), "the portal's key, as it is");
    assert!(
        seen.iter()
            .all(|s| s.token.as_deref() == Some("kong-token"))
    );
    let held = kong.keys_of(&consumer);
    assert_eq!(held.len(), 1);
    let kong_id = held[0]["id"].as_str().unwrap().to_owned();

    // A sandbox key stays off a gateway that takes production keys.
    let before = kong.calls().len();
    let sandbox = new_key(
        base,
        &dev,
        main,
        json!({"name": "test", "environment": "sandbox"}),
    )
    .await;
    assert_eq!(sandbox["gateways"], json!([]));
    assert_eq!(kong.calls().len(), before);

    // Revoked in the portal: deleted from Kong.
    let revoked = as_developer(
        base,
        &dev,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{main}/keys/{}", created["id"]),
        None,
    )
    .await;
    assert_eq!(
        kong.calls().last().unwrap(),
        &format!("DELETE /consumers/{consumer}/key-auth/{kong_id}")
    );
    assert!(kong.keys_of(&consumer).is_empty());
    assert_eq!(
        revoked["gateways"],
        json!([{"gateway": "kong", "status": "revoked", "error": null}])
    );

    // Rotated without an overlap: the new key is pushed, the old one deleted.
    let second = new_key(
        base,
        &dev,
        main,
        json!({"name": "prod", "environment": "production"}),
    )
    .await;
    let rotated = as_developer(
        base,
        &dev,
        reqwest::Method::POST,
        &format!("/api/v1/apps/{main}/keys/{}/rotate", second["id"]),
        Some(json!({"overlap_secs": 0})),
    )
    .await;
    let held: Vec<String> = kong
        .keys_of(&consumer)
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(held, [secret(&rotated)]);
    assert_eq!(rotated["gateways"][0]["status"], "provisioned");

    // The portal keeps Kong's reference, never the key.
    let stored: String = app
        .server
        .state
        .db()
        .conn()
        .query_row(
            "SELECT group_concat(coalesce(credential_ref, '') || coalesce(error, ''), ' ')
             FROM key_credentials",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        stored.contains(&format!("{consumer}/{kong_id}")),
        "{stored}"
    );
    for k in [&key, &secret(&second), &secret(&rotated)] {
        assert!(!stored.contains(k.as_str()));
    }
}
