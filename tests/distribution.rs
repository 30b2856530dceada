//! Plugin distribution as vendors and operators live it: pack a component
//! with its manifest, sign it, verify it, and a server that refuses what its
//! trust policy does not accept.

use std::path::{Path, PathBuf};
use std::process::Command;

use portico::config::PublisherConfig;
use portico_tests::{AppSpec, guests, portico_bin, serve_files, try_spawn_app};

fn portico(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(portico_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running portico")
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `portico`, expecting exit code 2; returns standard error.
fn refused(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A publisher key made with `portico plugin keygen`: (key file, public key).
fn keygen(dir: &Path, publisher: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{publisher}.key"));
    let out = ok(&portico(
        dir,
        &[
            "plugin",
            "keygen",
            "--publisher",
            publisher,
            "-o",
            path.to_str().unwrap(),
        ],
    ));
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .expect("keygen prints the public key")
        .to_owned();
    (path, public)
}

/// The hello connector repacked as version 2.0.0 by `portico plugin pack`.
fn packed_hello(dir: &Path) -> PathBuf {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-connector/plugin.toml"),
    )
    .unwrap();
    let manifest = manifest.replace("version = \"0.1.0\"", "version = \"2.0.0\"");
    assert!(
        manifest.contains("2.0.0"),
        "the example's version changed: {manifest}"
    );
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    let out = ok(&portico(dir, &["plugin", "pack", guests::HELLO_CONNECTOR]));
    assert!(out.contains("hello-connector-2.0.0.wasm"), "{out}");
    dir.join("hello-connector-2.0.0.wasm")
}

#[test]
fn pack_embeds_the_manifest_so_the_package_travels_as_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let package = packed_hello(dir.path());
    let out = ok(&portico(
        dir.path(),
        &["plugin", "inspect", package.to_str().unwrap(), "--json"],
    ));
    let inspection: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inspection["manifest"]["version"], "2.0.0");
    assert_eq!(inspection["manifest"]["world"], "gateway-connector");

    std::fs::write(dir.path().join("plugin.toml"), "id = \"x\"").unwrap();
    let err = refused(&portico(
        dir.path(),
        &["plugin", "pack", guests::HELLO_CONNECTOR],
    ));
    assert!(err.contains("invalid manifest"), "{err}");
}

#[test]
fn signed_package_verifies_and_tampered_unsigned_or_untrusted_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let package = packed_hello(d);
    let file = package.to_str().unwrap();
    let (key, public) = keygen(d, "acme");
    let trust = format!("acme={public}");

    let err = refused(&portico(d, &["plugin", "verify", file, "--trust", &trust]));
    assert!(err.contains("unsigned"), "{err}");

    ok(&portico(
        d,
        &["plugin", "sign", file, "--key", key.to_str().unwrap()],
    ));
    let out = ok(&portico(d, &["plugin", "verify", file, "--trust", &trust]));
    assert!(
        out.contains("signed by acme") && out.contains("trusted"),
        "{out}"
    );

    let (_, stranger) = keygen(d, "stranger");
    let err = refused(&portico(
        d,
        &[
            "plugin",
            "verify",
            file,
            "--trust",
            &format!("stranger={stranger}"),
        ],
    ));
    assert!(err.contains("untrusted") && err.contains("acme"), "{err}");

    let mut bytes = std::fs::read(&package).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let tampered = d.join("tampered.wasm");
    std::fs::write(&tampered, bytes).unwrap();
    let err = refused(&portico(
        d,
        &[
            "plugin",
            "verify",
            tampered.to_str().unwrap(),
            "--trust",
            &trust,
        ],
    ));
    assert!(err.contains("tampered"), "{err}");
}

#[test]
fn detached_signature_sits_beside_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let package = packed_hello(d);
    let file = package.to_str().unwrap();
    let before = std::fs::read(&package).unwrap();
    let (key, public) = keygen(d, "acme");
    ok(&portico(
        d,
        &[
            "plugin",
            "sign",
            file,
            "--key",
            key.to_str().unwrap(),
            "--detached",
        ],
    ));
    assert_eq!(
        std::fs::read(&package).unwrap(),
        before,
        "package untouched"
    );
    assert!(d.join("hello-connector-2.0.0.wasm.sig").is_file());
    ok(&portico(
        d,
        &[
            "plugin",
            "verify",
            file,
            "--trust",
            &format!("acme={public}"),
        ],
    ));
}

#[test]
fn keygen_never_overwrites_a_key() {
    let dir = tempfile::tempdir().unwrap();
    keygen(dir.path(), "acme");
    let err = refused(&portico(
        dir.path(),
        &["plugin", "keygen", "--publisher", "acme"],
    ));
    assert!(err.contains("acme.key"), "{err}");
}

#[tokio::test]
async fn server_requiring_signatures_refuses_unsigned_plugins_and_loads_trusted_ones() {
    let err = try_spawn_app(AppSpec {
        plugins: vec![guests::HELLO_CONNECTOR],
        require_signatures: true,
        ..AppSpec::default()
    })
    .await
    .err()
    .expect("an unsigned plugin stops the start");
    let err = format!("{err:#}");
    assert!(
        err.contains("hello_connector.wasm") && err.contains("unsigned"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let package = packed_hello(dir.path());
    let (key, public) = keygen(dir.path(), "acme");
    ok(&portico(
        dir.path(),
        &[
            "plugin",
            "sign",
            package.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    ));
    let app = try_spawn_app(AppSpec {
        plugin_files: vec![package],
        require_signatures: true,
        trusted_publishers: vec![PublisherConfig {
            name: "acme".into(),
            key: public,
        }],
        ..AppSpec::default()
    })
    .await
    .expect("a trusted plugin loads");
    let plugins: serde_json::Value = app.get("/api/v1/plugins").await.json().await.unwrap();
    let hello = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "hello-connector")
        .expect("hello-connector is listed");
    assert_eq!(hello["version"], "2.0.0");
    assert_eq!(hello["trust"]["status"], "trusted");
    assert_eq!(hello["trust"]["publisher"], "acme");
    let bundled = plugins
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "connector-openapi")
        .expect("bundled plugins stay trusted as built");
    assert_eq!(bundled["trust"]["status"], "bundled");
}

/// A packed copy of the hello connector at `version`, in `dir`.
fn hello_at(dir: &Path, version: &str) -> PathBuf {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello-connector/plugin.toml"),
    )
    .unwrap()
    .replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
    let manifest_path = dir.join(format!("plugin-{version}.toml"));
    std::fs::write(&manifest_path, manifest).unwrap();
    let out = dir.join(format!("hello-{version}.wasm"));
    ok(&portico(
        dir,
        &[
            "plugin",
            "pack",
            guests::HELLO_CONNECTOR,
            "--manifest",
            manifest_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    out
}

const TOKEN: &str = "plugin-admin-token";

/// A portal with an admin token, and a directory for the test's files.
async fn portal_with_token() -> (portico_tests::TestApp, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let token = files.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let app = portico_tests::spawn_app(AppSpec {
        admin_token: Some(format!("file:{}", token.display())),
        ..AppSpec::default()
    })
    .await;
    (app, files)
}

async fn upload(app: &portico_tests::TestApp, file: &Path, query: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/plugins{query}", app.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/wasm")
        .body(std::fs::read(file).unwrap())
        .send()
        .await
        .unwrap()
}

async fn serving_version(app: &portico_tests::TestApp, id: &str) -> Option<String> {
    let response = app.get(&format!("/api/v1/plugins/{id}")).await;
    if response.status() == 404 {
        return None;
    }
    let info: serde_json::Value = response.json().await.unwrap();
    Some(info["version"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn plugins_are_installed_upgraded_disabled_and_removed_without_a_restart() {
    let (app, files) = portal_with_token().await;
    let v1 = hello_at(files.path(), "1.0.0");
    let v2 = hello_at(files.path(), "2.0.0");

    let anonymous = app
        .client
        .post(format!("{}/api/v1/plugins", app.base))
        .body(std::fs::read(&v1).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(serving_version(&app, "hello-connector").await, None);

    let answer = upload(&app, &v1, "").await;
    assert_eq!(answer.status(), 201);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer["reloaded"]["loaded"][0], "hello-connector 1.0.0");
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("1.0.0")
    );

    // A call that started on 1.0.0 keeps its version through the upgrade.
    let in_flight = app.plugin("hello-connector");
    assert_eq!(upload(&app, &v2, "").await.status(), 201);
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("2.0.0")
    );
    assert_eq!(in_flight.info().version, "1.0.0");
    in_flight
        .discover(None)
        .await
        .expect("the old version still answers");
    app.plugin("hello-connector")
        .discover(None)
        .await
        .expect("the new version answers");

    // Pinning the older version makes it serve again.
    assert_eq!(upload(&app, &v1, "?activate=true").await.status(), 201);
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("1.0.0")
    );

    let post = |path: &'static str| {
        app.client
            .post(format!(
                "{}/api/v1/plugins/hello-connector/{path}",
                app.base
            ))
            .bearer_auth(TOKEN)
            .send()
    };
    assert_eq!(post("disable").await.unwrap().status(), 200);
    assert_eq!(serving_version(&app, "hello-connector").await, None);
    assert_eq!(post("enable").await.unwrap().status(), 200);
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("1.0.0")
    );

    let delete = |query: &'static str| {
        app.client
            .delete(format!(
                "{}/api/v1/plugins/hello-connector{query}",
                app.base
            ))
            .bearer_auth(TOKEN)
            .send()
    };
    assert_eq!(delete("?version=1.0.0").await.unwrap().status(), 200);
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("2.0.0")
    );
    assert_eq!(delete("").await.unwrap().status(), 200);
    assert_eq!(serving_version(&app, "hello-connector").await, None);
    assert_eq!(delete("").await.unwrap().status(), 404);
}

#[tokio::test]
async fn an_upgrade_that_fails_its_checks_leaves_the_old_version_serving() {
    let (app, files) = portal_with_token().await;
    assert_eq!(
        upload(&app, &hello_at(files.path(), "1.0.0"), "")
            .await
            .status(),
        201
    );

    // The wrong world under hello-connector's manifest: pack refuses it, and
    // so does the server when the bytes are sent anyway.
    let manifest = std::fs::read_to_string(files.path().join("plugin-1.0.0.toml"))
        .unwrap()
        .replace("version = \"1.0.0\"", "version = \"3.0.0\"");
    let bad = portico_runtime::package::pack(
        &std::fs::read(guests::FIXTURE_WRONG_WORLD).unwrap(),
        &manifest,
        None,
    )
    .unwrap();
    let bad_file = files.path().join("bad.wasm");
    std::fs::write(&bad_file, bad).unwrap();
    let answer = upload(&app, &bad_file, "").await;
    assert_eq!(answer.status(), 400);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("hello-connector 3.0.0"),
        "{problem}"
    );
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("1.0.0")
    );

    let garbage = files.path().join("garbage.wasm");
    std::fs::write(&garbage, b"not wasm").unwrap();
    assert_eq!(upload(&app, &garbage, "").await.status(), 400);
    assert_eq!(
        serving_version(&app, "hello-connector").await.as_deref(),
        Some("1.0.0")
    );
}

#[tokio::test]
async fn cli_install_beside_a_running_server_is_picked_up() {
    let (app, files) = portal_with_token().await;
    let v1 = hello_at(files.path(), "1.0.0");
    let data_dir = app.data_dir.path().to_str().unwrap();
    let out = ok(&portico(
        files.path(),
        &[
            "plugin",
            "install",
            v1.to_str().unwrap(),
            "--data-dir",
            data_dir,
        ],
    ));
    assert!(out.contains("installed hello-connector 1.0.0"), "{out}");

    // The server watches its plugins directory; wait for the change to land.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while serving_version(&app, "hello-connector").await.is_none() {
        assert!(std::time::Instant::now() < deadline, "never loaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let err = refused(&portico(
        files.path(),
        &[
            "plugin",
            "upgrade",
            v1.to_str().unwrap(),
            "--data-dir",
            data_dir,
        ],
    ));
    assert!(err.contains("not newer"), "{err}");
    ok(&portico(
        files.path(),
        &[
            "plugin",
            "disable",
            "hello-connector",
            "--data-dir",
            data_dir,
        ],
    ));
    while serving_version(&app, "hello-connector").await.is_some() {
        assert!(std::time::Instant::now() < deadline, "never unloaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_installs_from_a_url_with_its_detached_signature() {
    let files = tempfile::tempdir().unwrap();
    let d = files.path();
    let package = hello_at(d, "1.0.0");
    let (key, public) = keygen(d, "acme");
    ok(&portico(
        d,
        &[
            "plugin",
            "sign",
            package.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--detached",
        ],
    ));
    let config = d.join("portico.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\nrequire_signatures = true\ntrusted_publishers = [{{ name = \"acme\", key = \"{public}\" }}]\n"
        ),
    )
    .unwrap();
    let base = serve_files(d).await;
    let url = format!("{base}/hello-1.0.0.wasm");
    let data = tempfile::tempdir().unwrap();
    let args = |url: &str| -> Vec<String> {
        [
            "plugin",
            "install",
            url,
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            data.path().to_str().unwrap(),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |args: Vec<String>| {
        let dir = d.to_owned();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                portico(&dir, &args)
            })
            .await
            .unwrap()
        }
    };
    let out = ok(&run(args(&url)).await);
    assert!(out.contains("installed hello-connector 1.0.0"), "{out}");
    assert!(
        data.path()
            .join("plugins/hello-connector-1.0.0.wasm.sig")
            .is_file()
    );

    std::fs::remove_file(d.join("hello-1.0.0.wasm.sig")).unwrap();
    std::fs::remove_dir_all(data.path().join("plugins")).unwrap();
    let err = refused(&run(args(&url)).await);
    assert!(err.contains("unsigned"), "{err}");
    let err = refused(&run(args(&format!("{base}/missing.wasm"))).await);
    assert!(err.contains("404"), "{err}");
}

/// The WIT versioning policy: a plugin built against an older release of the
/// host's track (the frozen `portico:plugin@0.1.0`) loads and runs, its host
/// imports linked to the newer interfaces.
#[tokio::test]
async fn plugin_built_against_an_older_minor_wit_runs_on_this_host() {
    assert_ne!(
        portico_runtime::WIT_VERSION.to_string(),
        "0.1.0",
        "the host must be newer than the frozen fixture for this test to prove anything"
    );
    let inspect = ok(&portico(
        Path::new("."),
        &["plugin", "inspect", "--json", guests::FIXTURE_WIT_V0_1_0],
    ));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["wit_version"], "0.1.0", "{inspect}");

    let settings = portico::config::PluginSettings {
        config: "greeting = \"hello from the 0.1.0 contract\""
            .parse()
            .unwrap(),
        ..Default::default()
    };
    let app = try_spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_WIT_V0_1_0],
        settings: vec![("fixture-wit-v0-1-0", settings)],
        ..Default::default()
    })
    .await
    .expect("a 0.1.0 plugin loads on this host");
    let page = app
        .plugin("fixture-wit-v0-1-0")
        .discover(None)
        .await
        .unwrap();
    assert_eq!(
        page.apis[0].description.as_deref(),
        Some("hello from the 0.1.0 contract")
    );
    let listed = app
        .get("/api/v1/plugins")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let plugin = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "fixture-wit-v0-1-0")
        .expect("listed");
    assert_eq!(plugin["wit_version"], "0.1.0", "{plugin}");
}
