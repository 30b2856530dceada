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
