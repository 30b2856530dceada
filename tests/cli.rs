//! The `portico` command as users run it: real processes, real exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use portico_tests::{guests, portico_bin};

fn portico(args: &[&str]) -> std::process::Output {
    Command::new(portico_bin())
        .args(args)
        .output()
        .expect("running portico")
}

#[test]
fn serve_prints_its_address_once_ready_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(portico_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let body = raw_http::get(&format!("{url}/healthz"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(body.contains("\"ok\""), "{body}");
}

/// A minimal blocking GET over a raw socket, so the test needs no second HTTP client.
mod raw_http {
    pub(super) fn get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }
}

#[test]
fn inspect_shows_manifest_world_wit_imports_and_exports() {
    let out = portico(&["plugin", "inspect", guests::HELLO_CONNECTOR]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "hello-connector",
        "gateway-connector",
        "portico:plugin/host@0.1.1",
        "portico:plugin/connector@0.1.1",
        "compatible:  yes",
    ] {
        assert!(text.contains(expected), "missing {expected}: {text}");
    }
    let json = portico(&["plugin", "inspect", "--json", guests::HELLO_CONNECTOR]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["manifest"]["world"], "gateway-connector");
    assert_eq!(value["wit_version"], "0.1.1");
}

#[test]
fn malformed_wasm_is_refused_with_the_file_name_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.wasm");
    std::fs::write(&file, b"definitely not wasm").unwrap();
    let out = portico(&["plugin", "inspect", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.wasm") && err.contains("magic number"),
        "{err}"
    );

    // The same file in the plugins directory stops the server from starting.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(&file, plugins.join("broken.wasm")).unwrap();
    let out = portico(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "never announced it was listening");
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.wasm"));
}

#[test]
fn incompatible_wit_version_is_explained_by_inspect() {
    let out = portico(&["plugin", "inspect", guests::FIXTURE_WIT_V2]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fixture_wit_v2.wasm") && err.contains("portico:plugin@2.0.0"),
        "{err}"
    );
}

#[test]
fn unknown_config_key_is_named_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portico.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[branding]\ncolour = \"red\"\n",
    )
    .unwrap();
    let out = portico(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("portico.toml") && err.contains("colour"),
        "{err}"
    );
}

#[test]
fn unusable_database_path_is_named_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let out = portico(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        blocker.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a-file"), "{err}");
}

#[test]
fn plugin_list_shows_bundled_and_directory_plugins() {
    let dir = tempfile::tempdir().unwrap();
    portico_tests::install(&dir.path().join("plugins"), &[guests::HELLO_CONNECTOR]);
    let out = portico(&["plugin", "list", "--data-dir", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("connector-openapi") && text.contains("hello-connector"),
        "{text}"
    );
}

/// A published petstore description from `host/catalog/fixtures/diff/`.
fn petstore(name: &str) -> String {
    format!(
        "{}/../host/catalog/fixtures/diff/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn spec_diff_exits_0_when_nothing_breaks() {
    let same = portico(&[
        "spec",
        "diff",
        &petstore("petstore.yaml"),
        &petstore("petstore.yaml"),
    ]);
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&same.stdout), "no changes\n");

    // Only additions: still exit 0, and they are listed.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, paths: serde_json::Value| {
        let doc = serde_json::json!({
            "openapi": "3.1.0", "info": {"title": "Pets", "version": "1"}, "paths": paths
        });
        let path = dir.path().join(name);
        std::fs::write(&path, doc.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let old = write("old.json", serde_json::json!({"/pets": {"get": {}}}));
    let new = write(
        "new.json",
        serde_json::json!({"/pets": {"get": {}, "post": {}}}),
    );
    let out = portico(&["spec", "diff", &old, &new]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("non-breaking  POST /pets: The operation was added. [operation-added]\n"),
        "{text}"
    );
    assert!(
        text.ends_with("0 breaking changes, 1 non-breaking\n"),
        "{text}"
    );
}

#[test]
fn spec_diff_exits_1_on_breaking_changes_and_prints_them_as_json() {
    let out = portico(&[
        "spec",
        "diff",
        "--json",
        &petstore("petstore.yaml"),
        &petstore("petstore-expanded.yaml"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["breaking"], 5);
    assert_eq!(value["non_breaking"], 10);
    let changes = value["changes"].as_array().unwrap();
    assert!(
        changes.contains(&serde_json::json!({
            "rule": "response-status-removed",
            "severity": "breaking",
            "location": "POST /pets › response 201",
            "message": "Response `201` was removed."
        })),
        "{changes:#?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5 breaking changes"), "{err}");

    // A Swagger 2.0 version against its OpenAPI 3.0 rewrite, as text.
    let out = portico(&[
        "spec",
        "diff",
        &petstore("petstore-swagger-2.0.yaml"),
        &petstore("petstore.yaml"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(
            "BREAKING      GET /pets › parameter `limit` (query): `maximum` 100 was added. \
             [request-constraint-narrowed]\n"
        ),
        "{text}"
    );
}

#[test]
fn spec_diff_of_unreadable_or_unrelated_files_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "openapi: 3.0.0\ninfo:\n  title: [x\n").unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(
        &other,
        r#"{"openapi": "3.0.3", "info": {"title": "Billing", "version": "1"},
            "paths": {"/invoices": {"get": {}}}}"#,
    )
    .unwrap();
    let petstore = petstore("petstore.yaml");
    for (new, expected) in [
        (&missing, "cannot read"),
        (&broken, "broken.yaml:"),
        (&other, "different APIs"),
    ] {
        let out = portico(&["spec", "diff", &petstore, new.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}
