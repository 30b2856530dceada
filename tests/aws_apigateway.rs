//! The bundled `connector-aws-apigateway` end to end against moto's server
//! mode (PyPI `moto[server]`), which emulates API Gateway's management API.
//! `tests/moto/seed.py` seeds it through the real AWS API (boto3) and then
//! turns on moto's IAM authentication, so every request the plugin makes
//! must carry a SigV4 signature that moto, recomputing it with botocore,
//! accepts; a wrong secret is refused as AWS refuses it.
//!
//! `PORTICO_MOTO` names `moto_server` in a venv holding moto and boto3
//! (`scripts/test.sh` installs them in `target/moto-venv`); the venv's
//! `python` runs `tests/moto/server.py` and `seed.py`. Unset, the moto tests
//! say they were skipped and pass; set to a missing file, they fail.
//!
//! The plugin's signer is compiled here too (`mod sigv4`), so its unit tests,
//! AWS's SigV4 test-suite vectors, run with this workspace's tests.

#[path = "../plugins/connector-aws-apigateway/src/sigv4.rs"]
mod sigv4;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use portico::config::{GatewaySettings, PluginSettings};
use portico_runtime::CallError;
use portico_runtime::worlds::PluginError;
use portico_runtime::worlds::connector::{
    Capability, CredentialRequest, KeySource, Provisioned, RevokeMode,
};
use portico_tests::{AppSpec, TestApp, spawn_app};
use serde_json::Value;

const REGION: &str = "eu-west-1";
const CONNECTOR: &str = "connector-aws-apigateway";

/// A moto server on a free port, seeded; stopped when dropped.
struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// The IAM access key the seed made.
    access_key_id: String,
    secret_access_key: String,
    /// The REST API `Pet Store`, with stages `prod` and `dev`.
    api_id: String,
    /// The usage plan `Gold`, covering `prod`.
    plan_id: String,
    /// Holds the secret files.
    dir: tempfile::TempDir,
}

impl Moto {
    /// Starts and seeds moto, or `None` when `PORTICO_MOTO` is not set.
    fn start() -> Option<Moto> {
        let Some(moto_server) = std::env::var_os("PORTICO_MOTO").map(PathBuf::from) else {
            eprintln!(
                "skipped: PORTICO_MOTO is not set (scripts/test.sh installs moto and sets it)"
            );
            return None;
        };
        assert!(
            moto_server.is_file(),
            "PORTICO_MOTO names {}, which does not exist; scripts/test.sh installs moto[server] in target/moto-venv",
            moto_server.display()
        );
        let python = moto_server.with_file_name("python");
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto");
        let mut child = Command::new(&python)
            .arg(scripts.join("server.py"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));

        // Werkzeug names the port it bound on stderr; the rest of stderr (one
        // line per request) is drained so moto never blocks on a full pipe.
        let stderr = child.stderr.take().expect("piped stderr");
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || {
            let mut found = Some(found);
            let mut early = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(sender) = &found {
                    if let Some(at) = line.find("Running on http://") {
                        let url = line[at + "Running on ".len()..].trim().to_owned();
                        let _ = sender.send(Ok(url));
                        found = None;
                    } else {
                        early.push(line);
                    }
                }
            }
            if let Some(sender) = found {
                let _ = sender.send(Err(early.join("\n")));
            }
        });
        let url = match address.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(url)) => url,
            Ok(Err(output)) => panic!("moto exited before listening:\n{output}"),
            Err(_) => panic!("moto did not say where it listens within 30 s"),
        };
        wait_until_listening(&url);

        let seeded = Command::new(&python)
            .arg(scripts.join("seed.py"))
            .args([&url, REGION])
            .output()
            .expect("running seed.py");
        assert!(
            seeded.status.success(),
            "seeding moto failed:\n{}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let seed: Value = serde_json::from_slice(&seeded.stdout).expect("seed.py prints JSON");
        let text = |key: &str| seed[key].as_str().expect(key).to_owned();
        Some(Moto {
            child,
            url,
            access_key_id: text("access_key_id"),
            secret_access_key: text("secret_access_key"),
            api_id: text("api_id"),
            plan_id: text("plan_id"),
            dir: tempfile::tempdir().expect("a directory for secrets"),
        })
    }

    /// A `file:` reference to a file holding `value`.
    fn secret_file(&self, name: &str, value: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, value).expect("writing a secret");
        format!("file:{}", path.display())
    }

    /// `[gateways.secrets]` with the seeded key and `secret` as its secret.
    fn secrets_toml(&self, name: &str, secret: &str) -> String {
        format!(
            "[secrets]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            self.secret_file(&format!("{name}-id"), &self.access_key_id),
            self.secret_file(&format!("{name}-secret"), secret),
        )
    }

    /// Calls moto's API signed with the seeded key: the status and the JSON.
    async fn call(&self, method: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let credentials = sigv4::Credentials {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
            session_token: None,
        };
        let host = self.url.trim_start_matches("http://");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let signed = sigv4::sign(
            &sigv4::Request {
                method,
                host,
                path,
                query,
                headers: &[],
                body: b"",
            },
            &credentials,
            REGION,
            "apigateway",
            &sigv4::amz_date(now.as_secs()),
        );
        let mut url = format!("{}{path}", self.url);
        if !signed.query.is_empty() {
            url = format!("{url}?{}", signed.query);
        }
        let mut request = reqwest::Client::new().request(method.parse().unwrap(), url);
        for (name, value) in &signed.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("moto answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls until something accepts connections at `url`.
fn wait_until_listening(url: &str) {
    let address = url.trim_start_matches("http://");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto never accepted a connection"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An on-demand AWS gateway called `name` for moto.
fn aws_gateway(moto: &Moto, name: &str, secret: &str) -> GatewaySettings {
    let text = format!(
        "name = \"{name}\"\nconnector = \"{CONNECTOR}\"\nsync_interval = \"off\"\n\
         timeout = \"20s\"\nallow_private_addresses = true\n{}\
         [config]\nregion = \"{REGION}\"\nendpoint = \"{}\"\n",
        moto.secrets_toml(name, secret),
        moto.url
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

async fn start_moto() -> Option<Moto> {
    tokio::task::spawn_blocking(Moto::start).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_gateway_syncs_rest_apis_with_stages_swagger_exports_and_refuses_a_wrong_secret() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let app = spawn_app(AppSpec {
        gateways: vec![
            aws_gateway(&moto, "aws", &moto.secret_access_key),
            aws_gateway(&moto, "aws-wrong", "not-the-secret-access-key"),
        ],
        ..AppSpec::default()
    })
    .await;

    let run = sync(&app, "aws").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        (run["discovered"].as_u64(), run["added"].as_u64()),
        (Some(1), Some(1)),
        "{run}"
    );

    let api = json_at(&app, "/api/v1/apis/default/pet-store").await;
    assert_eq!(api["source"], "gateway:aws");
    assert_eq!(api["title"], "Pet Store");
    assert_eq!(api["description"], "Pets for sale.");
    let invoke = |stage: &str| {
        format!(
            "https://{}.execute-api.{REGION}.amazonaws.com/{stage}",
            moto.api_id
        )
    };
    let mut environments: Vec<(String, String)> = api["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    environments.sort();
    assert_eq!(
        environments,
        [
            ("dev".to_owned(), invoke("dev")),
            ("prod".to_owned(), invoke("prod"))
        ],
        "{api}"
    );
    // moto exports Swagger 2.0 whatever is asked; the catalogue reads it as such.
    let version = &api["versions"][0];
    assert_eq!(version["spec_format"], "openapi2", "{api}");
    let spec = app
        .get(version["spec_url"].as_str().unwrap())
        .await
        .text()
        .await
        .unwrap();
    // (moto writes its methods in upper case, `"GET"`, so the catalogue
    // indexes no operations from its exports.)
    assert!(
        spec.contains("\"swagger\": \"2.0\"") && spec.contains("\"/pets\""),
        "{spec}"
    );
    let entity = json_at(&app, "/api/catalog/entities/by-name/api/default/pet-store").await;
    assert_eq!(
        entity["metadata"]["annotations"]["portico.dev/gateway-api-id"],
        moto.api_id
    );
    assert_eq!(entity["metadata"]["labels"]["team"], "pets", "{entity}");

    // The same key with a wrong secret: moto refuses the signature, the sync
    // fails saying so, quickly, and writes nothing.
    let started = Instant::now();
    let run = sync(&app, "aws-wrong").await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("discover (page 1)")
            && error.contains(&format!("AWS refused access key `{}`", moto.access_key_id))
            && error.contains("SignatureDoesNotMatch")
            && error.contains("nothing was written"),
        "{error}"
    );
    assert!(
        !error.contains("not-the-secret"),
        "the secret stays out of errors: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let hits = json_at(&app, "/api/v1/apis?source=gateway:aws-wrong").await;
    assert_eq!(hits["total"], 0, "{hits}");
}

/// The connector's settings as a plugin (not a gateway instance), so a test
/// can call its functions directly.
fn plugin_settings(moto: &Moto) -> PluginSettings {
    PluginSettings {
        allowed_outbound_hosts: Some(vec![moto.url.clone()]),
        allow_private_addresses: true,
        config: format!("region = \"{REGION}\"\nendpoint = \"{}\"", moto.url)
            .parse()
            .unwrap(),
        secrets: [
            (
                "access_key_id".to_owned(),
                moto.secret_file("plugin-id", &moto.access_key_id),
            ),
            (
                "secret_access_key".to_owned(),
                moto.secret_file("plugin-secret", &moto.secret_access_key),
            ),
        ]
        .into(),
        ..PluginSettings::default()
    }
}

fn request(app_id: &str, plan_id: &str, key: KeySource) -> CredentialRequest {
    CredentialRequest {
        app_id: app_id.into(),
        owner_id: "user:default/alice".into(),
        owner_email: Some("alice@example.com".into()),
        display_name: format!("{app_id} of Alice"),
        plan_ids: vec![plan_id.into()],
        api_ids: vec![],
        key,
        expires_at: None,
        labels: vec![("portico-app".into(), app_id.into())],
    }
}

/// The ids of the keys in a usage plan, as moto reports them.
async fn plan_keys(moto: &Moto) -> Vec<String> {
    let (status, keys) = moto
        .call("GET", &format!("/usageplans/{}/keys", moto.plan_id), &[])
        .await;
    assert_eq!(status, 200, "{keys}");
    keys["item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

fn plugin_error(result: Result<Provisioned, CallError>) -> PluginError {
    match result {
        Err(CallError::Plugin { error, .. }) => error,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_connector_provisions_keys_into_a_usage_plan_and_revokes_them() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let app = spawn_app(AppSpec {
        settings: vec![(CONNECTOR, plugin_settings(&moto))],
        ..AppSpec::default()
    })
    .await;
    let plugin = app.plugin(CONNECTOR);

    let info = plugin.describe_gateway().await.unwrap();
    assert_eq!(info.kind, "aws-apigateway");
    for capability in [
        Capability::ExportSpec,
        Capability::ListPlans,
        Capability::PortalKey,
        Capability::GatewayKey,
        Capability::KeyDisable,
        Capability::KeyDelete,
    ] {
        assert!(info.capabilities.contains(&capability), "{capability:?}");
    }
    let page = plugin.discover(None).await.unwrap();
    assert_eq!(page.apis[0].plan_ids, [moto.plan_id.as_str()]);
    let gold = &page.plans[0];
    assert_eq!(
        (gold.name.as_str(), gold.api_ids.clone()),
        ("Gold", vec![moto.api_id.clone()])
    );
    let limits: Vec<(u64, u64, Option<u64>)> = gold
        .limits
        .iter()
        .map(|l| (l.requests, l.per_seconds, l.burst))
        .collect();
    assert_eq!(limits, [(10, 1, Some(20)), (5000, 30 * 86_400, None)]);

    // A key the gateway generates, returned once and found again on retry.
    let first = plugin
        .provision_credential(&request("app-1", &moto.plan_id, KeySource::Gateway))
        .await
        .unwrap();
    let value = first.key.clone().expect("AWS generated the value");
    assert!(value.len() >= 20, "{value}");
    assert!(first.readable_later);
    let retry = plugin
        .provision_credential(&request("app-1", &moto.plan_id, KeySource::Gateway))
        .await
        .unwrap();
    assert_eq!(
        (&retry.credential_ref, &retry.key),
        (&first.credential_ref, &first.key),
        "a retry is idempotent"
    );
    assert_eq!(plan_keys(&moto).await, [first.credential_ref.as_str()]);

    // A key the portal chose: stored as given, never echoed back.
    let chosen = "PorticoChosenKey0123456789abcdef";
    let second = plugin
        .provision_credential(&request(
            "app-2",
            &moto.plan_id,
            KeySource::Portal(chosen.into()),
        ))
        .await
        .unwrap();
    assert_eq!(second.key, None);
    let (_, stored) = moto
        .call(
            "GET",
            &format!("/apikeys/{}", second.credential_ref),
            &[("includeValue", "true")],
        )
        .await;
    assert_eq!(
        (
            stored["value"].as_str(),
            stored["name"].as_str(),
            stored["enabled"].as_bool()
        ),
        (Some(chosen), Some("portico-app-2"), Some(true)),
        "{stored}"
    );
    let mut keys = plan_keys(&moto).await;
    keys.sort();
    let mut expected = vec![first.credential_ref.clone(), second.credential_ref.clone()];
    expected.sort();
    assert_eq!(keys, expected);

    // Disabling keeps the key, switched off; provisioning that app again is a conflict.
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Disable)
        .await
        .unwrap();
    let (status, disabled) = moto
        .call("GET", &format!("/apikeys/{}", first.credential_ref), &[])
        .await;
    assert_eq!(
        (status, disabled["enabled"].as_bool()),
        (200, Some(false)),
        "{disabled}"
    );
    let error = plugin_error(
        plugin
            .provision_credential(&request("app-1", &moto.plan_id, KeySource::Gateway))
            .await,
    );
    assert!(
        matches!(&error, PluginError::Conflict(m) if m.contains("disabled")),
        "{error:?}"
    );

    // Deleting removes it; deleting what is gone counts as revoked.
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    let (status, _) = moto
        .call("GET", &format!("/apikeys/{}", first.credential_ref), &[])
        .await;
    assert_eq!(status, 404);
    plugin
        .revoke_credential(&first.credential_ref, RevokeMode::Delete)
        .await
        .unwrap();
    plugin
        .revoke_credential("nosuchkey", RevokeMode::Disable)
        .await
        .unwrap();

    // What AWS cannot do is refused before anything is sent.
    let short = plugin_error(
        plugin
            .provision_credential(&request(
                "app-3",
                &moto.plan_id,
                KeySource::Portal("short".into()),
            ))
            .await,
    );
    assert!(matches!(short, PluginError::Unsupported(_)), "{short:?}");
    let mut expiring = request("app-3", &moto.plan_id, KeySource::Gateway);
    expiring.expires_at = Some(4_102_444_800_000);
    let expiring = plugin_error(plugin.provision_credential(&expiring).await);
    assert!(
        matches!(expiring, PluginError::Unsupported(_)),
        "{expiring:?}"
    );
}
