//! The bundled `connector-express-gateway` end to end against a real Express
//! Gateway (npm `express-gateway` 1.16.11, pinned in `tests/express-gateway/`
//! and installed there by `scripts/express-gateway.sh`), started with node on
//! free ports in front of an upstream served by the test, behind its
//! key-auth policy: the portal discovers the API endpoint, the plugin issues
//! keys, the gateway lets calls with them through, and after revocation it
//! refuses them.
//!
//! Not installed, the test says it was skipped and passes; with
//! `PORTICO_EXPRESS_GATEWAY` set (scripts/test.sh sets it), it fails instead.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portico::config::{GatewaySettings, PluginSettings};
use portico_runtime::CallError;
use portico_runtime::worlds::PluginError;
use portico_runtime::worlds::connector::{Capability, CredentialRequest, KeySource, RevokeMode};
use portico_tests::caddy::free_port;
use portico_tests::{AppSpec, TestApp, spawn_app};
use serde_json::{Value, json};
use tempfile::TempDir;

const CONNECTOR: &str = "connector-express-gateway";

/// A running Express Gateway, stopped when dropped.
struct ExpressGateway {
    child: Child,
    /// Its Admin API, `http://127.0.0.1:PORT`.
    admin_url: String,
    /// Its proxy, `http://127.0.0.1:PORT`.
    http_url: String,
    dir: TempDir,
}

/// Where `scripts/express-gateway.sh` installs it.
fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("express-gateway")
}

impl ExpressGateway {
    /// Starts it with one key-auth pipeline, `orders` (`/orders`, `/orders/*`),
    /// proxying to `upstream`; `None` when it is not installed (and allowed not to be).
    async fn start(upstream: &str) -> Option<ExpressGateway> {
        let package = install_dir().join("node_modules/express-gateway");
        if !package.join("package.json").is_file() {
            assert!(
                std::env::var_os("PORTICO_EXPRESS_GATEWAY").is_none(),
                "{} is missing: run scripts/express-gateway.sh",
                package.display()
            );
            eprintln!("skipped: Express Gateway is not installed (scripts/express-gateway.sh)");
            return None;
        }
        let dir = tempfile::tempdir().expect("a config directory");
        let (http_port, admin_port) = (free_port(), free_port());
        std::fs::write(
            dir.path().join("gateway.config.yml"),
            format!(
                "http:\n  port: {http_port}\nadmin:\n  port: {admin_port}\n  host: 127.0.0.1\n\
                 apiEndpoints:\n  orders:\n    host: '*'\n    paths: ['/orders', '/orders/*']\n\
                 serviceEndpoints:\n  upstream:\n    url: '{upstream}'\n\
                 policies:\n  - key-auth\n  - proxy\n\
                 pipelines:\n  orders:\n    apiEndpoints:\n      - orders\n    policies:\n\
                 \x20     - key-auth:\n      - proxy:\n          - action:\n\
                 \x20             serviceEndpoint: upstream\n              changeOrigin: true\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("system.config.yml"),
            "db:\n  redis:\n    emulate: true\n    namespace: EG\n\
             crypto:\n  cipherKey: portico-test-cipher\n  algorithm: aes256\n  saltRounds: 10\n\
             session:\n  secret: portico-test-session\n  resave: false\n  saveUninitialized: false\n\
             accessTokens:\n  timeToExpiry: 7200000\nrefreshTokens:\n  timeToExpiry: 7200000\n\
             authorizationCodes:\n  timeToExpiry: 300000\n",
        )
        .unwrap();
        // The user, app and credential schemas it loads from the config directory.
        let models = dir.path().join("models");
        std::fs::create_dir(&models).unwrap();
        for model in ["users.json", "applications.json", "credentials.json"] {
            std::fs::copy(
                package.join("lib/config/models").join(model),
                models.join(model),
            )
            .unwrap();
        }
        let log = File::create(dir.path().join("gateway.log")).unwrap();
        let child = Command::new("node")
            .arg(install_dir().join("run.js"))
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting node (apt-get install nodejs)");
        let mut gateway = ExpressGateway {
            child,
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            http_url: format!("http://127.0.0.1:{http_port}"),
            dir,
        };
        gateway.wait_ready().await;
        Some(gateway)
    }

    /// Polls the Admin API, then the proxy, until both answer.
    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        for url in [
            format!("{}/api-endpoints", self.admin_url),
            format!("{}/orders", self.http_url),
        ] {
            loop {
                if client.get(&url).send().await.is_ok() {
                    break;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!("Express Gateway exited ({status}):\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "Express Gateway did not answer at {url} within 30 s:\n{}",
                    self.log()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// GETs a path of its Admin API.
    async fn admin(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.admin_url))
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Calls `/orders/1` through the gateway with `key` in `Authorization: apiKey`.
    async fn call(&self, key: Option<&str>) -> (u16, String) {
        let mut request = reqwest::Client::new().get(format!("{}/orders/1", self.http_url));
        if let Some(key) = key {
            request = request.header("authorization", format!("apiKey {key}"));
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

impl Drop for ExpressGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API behind the gateway: answers every path with 200.
async fn upstream() -> String {
    let app = axum::Router::new().fallback(|uri: axum::http::Uri| async move {
        format!("upstream answered {}", uri.path())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn gateway_settings(name: &str, admin_url: &str, gateway_url: &str) -> GatewaySettings {
    let text = format!(
        "name = \"{name}\"\nconnector = \"{CONNECTOR}\"\nsync_interval = \"off\"\ntimeout = \"5s\"\n\
         allow_private_addresses = true\n[config]\nadmin_url = \"{admin_url}\"\n\
         gateway_url = \"{gateway_url}\"\n"
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn request(app_id: &str, key: KeySource) -> CredentialRequest {
    CredentialRequest {
        app_id: app_id.into(),
        owner_id: "user:default/alice".into(),
        owner_email: Some("alice@example.com".into()),
        display_name: format!("{app_id} of Alice"),
        plan_ids: vec![],
        api_ids: vec!["orders".into()],
        key,
        expires_at: None,
        labels: vec![],
    }
}

fn plugin_error<T: std::fmt::Debug>(result: Result<T, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_gateway_api_is_discovered_and_keys_the_plugin_issues_open_it_until_revoked() {
    let upstream = upstream().await;
    let Some(eg) = ExpressGateway::start(&upstream).await else {
        return;
    };
    let down = format!("http://127.0.0.1:{}", free_port());
    let app = spawn_app(AppSpec {
        gateways: vec![
            gateway_settings("eg", &eg.admin_url, &eg.http_url),
            gateway_settings("eg-down", &down, &eg.http_url),
        ],
        // The plugin itself, granted the same Admin API, for the credential calls.
        settings: vec![(
            CONNECTOR,
            PluginSettings {
                allowed_outbound_hosts: Some(vec![eg.admin_url.clone()]),
                allow_private_addresses: true,
                config: format!("admin_url = \"{}\"", eg.admin_url).parse().unwrap(),
                ..PluginSettings::default()
            },
        )],
        ..AppSpec::default()
    })
    .await;

    // Discovery: the API endpoint, at the gateway's address.
    let run = sync(&app, "eg").await;
    assert_eq!(run["status"], "succeeded", "{run}\n{}", eg.log());
    assert_eq!(run["discovered"], 1, "{run}");
    let api = app.get("/api/v1/apis/default/orders").await;
    assert_eq!(api.status(), 200);
    let api: Value = api.json().await.unwrap();
    assert_eq!(api["source"], "gateway:eg");
    assert_eq!(
        api["environments"][0]["url"],
        format!("{}/orders", eg.http_url)
    );
    let entity: Value = app
        .get("/api/catalog/entities/by-name/api/default/orders")
        .await
        .json()
        .await
        .unwrap();
    let tags = entity["metadata"]["tags"].to_string();
    assert!(tags.contains("key-auth"), "{tags}");
    let description = entity["metadata"]["description"].to_string();
    assert!(description.contains(&upstream), "{description}");

    // A gateway that is down fails its own sync, quickly, naming it.
    let started = Instant::now();
    let run = sync(&app, "eg-down").await;
    assert_eq!(run["status"], "failed");
    assert!(run["error"].as_str().unwrap().contains(&down), "{run}");
    assert!(started.elapsed() < Duration::from_secs(6));

    let plugin = app.plugin(CONNECTOR);
    let info = plugin.describe_gateway().await.unwrap();
    assert_eq!(info.kind, "express-gateway");
    for capability in [
        Capability::PortalKey,
        Capability::GatewayKey,
        Capability::KeyDisable,
        Capability::KeyDelete,
    ] {
        assert!(info.capabilities.contains(&capability), "{capability:?}");
    }
    assert!(info.key_constraints.unwrap().contains("keyId:keySecret"));

    // Without a key, or with a wrong one, the gateway refuses the call.
    assert_eq!(eg.call(None).await.0, 401);
    assert_eq!(eg.call(Some("nobody:nothing")).await.0, 401);

    // A key the gateway generates: `keyId:keySecret`, which opens the API.
    let first = plugin
        .provision_credential(&request("app-1", KeySource::Gateway))
        .await
        .unwrap();
    let key = first.key.clone().expect("the gateway made the key");
    assert!(key.starts_with("portico-app-1:"), "{key}");
    assert_eq!(first.credential_ref, "portico-app-1");
    assert_eq!(
        eg.call(Some(&key)).await,
        (200, "upstream answered /orders/1".to_owned())
    );
    let (status, user) = eg.admin("/users/portico-app-1").await;
    assert_eq!(
        (status, &user["lastname"]),
        (200, &json!("portico app app-1"))
    );
    // A retry finds the same key.
    let retry = plugin
        .provision_credential(&request("app-1", KeySource::Gateway))
        .await
        .unwrap();
    assert_eq!(
        (&retry.credential_ref, &retry.key),
        (&first.credential_ref, &first.key)
    );

    // A key the portal chose, as `keyId:keySecret`: stored as given, never echoed.
    let chosen = "app2key:portal-chosen-secret";
    let second = plugin
        .provision_credential(&request("app-2", KeySource::Portal(chosen.into())))
        .await
        .unwrap();
    assert_eq!(
        (second.credential_ref.as_str(), second.key),
        ("app2key", None)
    );
    assert_eq!(eg.call(Some(chosen)).await.0, 200);
    // Another app may not take that key id; a key of another form is refused.
    let error = plugin_error(
        plugin
            .provision_credential(&request("app-3", KeySource::Portal("app2key:other".into())))
            .await,
    );
    assert!(matches!(error, PluginError::Conflict(_)), "{error:?}");
    let error = plugin_error(
        plugin
            .provision_credential(&request("app-3", KeySource::Portal("no-colon".into())))
            .await,
    );
    assert!(matches!(error, PluginError::Unsupported(_)), "{error:?}");

    // Disabled: the gateway refuses the key, and keeps the credential, inactive.
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Disable)
        .await
        .unwrap();
    assert_eq!(eg.call(Some(&key)).await.0, 401);
    let (_, credential) = eg.admin("/credentials/key-auth/portico-app-1").await;
    assert_eq!(credential["isActive"], false, "{credential}");
    // Asked again, the app gets a new secret; the old key stays refused.
    let renewed = plugin
        .provision_credential(&request("app-1", KeySource::Gateway))
        .await
        .unwrap();
    let renewed_key = renewed.key.unwrap();
    assert_ne!(renewed_key, key);
    assert_eq!(eg.call(Some(&renewed_key)).await.0, 200);
    assert_eq!(eg.call(Some(&key)).await.0, 401);

    // Deleted: the key stops working and the app's user, holding no other
    // active key, is gone with it; deleting what is gone counts as revoked.
    plugin
        .revoke_credential(&second.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    assert_eq!(eg.call(Some(chosen)).await.0, 401);
    assert_eq!(eg.admin("/users/portico-app-2").await.0, 404);
    assert_eq!(
        eg.admin("/credentials/key-auth/app2key").await.1,
        Value::Null
    );
    plugin
        .revoke_credential(&second.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    // app-1's user still holds its renewed key, so it stays.
    plugin
        .revoke_credential(&renewed.credential_ref, RevokeMode::Disable)
        .await
        .unwrap();
    assert_eq!(eg.admin("/users/portico-app-1").await.0, 200);
}

// A portal key is a `keyId:keySecret` pair (`pt_live_<12>:<28>`), the form
// Express Gateway's key-auth takes, so the portal provisions it as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_key_for_an_approved_subscription_opens_express_gateway_until_revoked() {
    use crate::identity::{add_user, sign_in};
    use crate::verify::{app_on, as_admin, as_developer, new_key, secret};

    let upstream = upstream().await;
    let Some(eg) = ExpressGateway::start(&upstream).await else {
        return;
    };
    let app = spawn_app(AppSpec {
        gateways: vec![gateway_settings("eg", &eg.admin_url, &eg.http_url)],
        ..AppSpec::default()
    })
    .await;
    let base = app.base.as_str();
    // Sync puts the gateway's API in the catalogue, marked as the gateway's.
    let run = sync(&app, "eg").await;
    assert_eq!(run["status"], "succeeded", "{run}\n{}", eg.log());
    let entity: Value = app
        .get("/api/catalog/entities/by-name/api/default/orders")
        .await
        .json()
        .await
        .unwrap();
    let annotations = &entity["metadata"]["annotations"];
    assert_eq!(
        (
            &annotations["portico.dev/gateway"],
            &annotations["portico.dev/gateway-api-id"]
        ),
        (&json!("eg"), &json!("orders"))
    );
    as_admin(
        base,
        &app.admin_token,
        "/api/v1/products",
        json!({"name": "orders", "title": "Orders", "apis": ["default/orders"]}),
    )
    .await;
    let plan = as_admin(
        base,
        &app.admin_token,
        "/api/v1/products/orders/plans",
        json!({"name": "free", "title": "Free"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
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
        json!([{"gateway": "eg", "status": "provisioned", "error": null}]),
        "{created}\n{}",
        eg.log()
    );
    assert_eq!(
        eg.call(Some(&key)).await,
        (200, "upstream answered /orders/1".to_owned())
    );
    assert_eq!(eg.call(None).await.0, 401);

    // Revoked in the portal: the gateway refuses the key at once.
    let revoked = as_developer(
        base,
        &dev,
        reqwest::Method::DELETE,
        &format!("/api/v1/apps/{main}/keys/{}", created["id"]),
        None,
    )
    .await;
    assert_eq!(eg.call(Some(&key)).await.0, 401);
    assert_eq!(
        revoked["gateways"],
        json!([{"gateway": "eg", "status": "revoked", "error": null}])
    );
}
