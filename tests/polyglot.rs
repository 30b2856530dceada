//! The same WIT from three languages: the JavaScript (componentize-js) and
//! Python (componentize-py) tutorial connectors load and answer like the Rust
//! one. `scripts/build-polyglot.sh` builds them into `target/polyglot/`
//! (scripts/test.sh runs it and sets `PORTICO_POLYGLOT=1`, which makes a
//! missing build an error rather than a skip).

use std::path::PathBuf;

use portico::config::PluginSettings;
use portico_runtime::CallError;
use portico_runtime::worlds::PluginError;
use portico_tests::{AppSpec, spawn_app};

/// The packed plugin file of one example, or None (skipped) when not built.
fn polyglot(name: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/polyglot")
        .join(format!("{name}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("PORTICO_POLYGLOT").is_none(),
        "{} is missing: run scripts/build-polyglot.sh",
        path.display()
    );
    eprintln!(
        "skipped: {} not built (scripts/build-polyglot.sh)",
        path.display()
    );
    None
}

/// Runs the tutorial's behaviour against one example: `tag` is the tag its
/// API carries, `kind` the gateway kind it describes.
async fn discovers_twice_and_counts_in_kv(id: &'static str, tag: &str, kind: &str) {
    let Some(file) = polyglot(id) else { return };
    let mut settings = PluginSettings::default();
    settings.config.insert(
        "greeting_api".into(),
        toml::Value::String("greetings".into()),
    );
    let app = spawn_app(AppSpec {
        plugin_files: vec![file],
        settings: vec![(id, settings)],
        ..AppSpec::default()
    })
    .await;
    let plugin = app.plugin(id);
    let first = plugin.discover(None).await.expect("discover answers");
    let api = &first.apis[0];
    assert_eq!(api.name, "greetings");
    assert_eq!(api.tags, [tag]);
    assert_eq!(api.description.as_deref(), Some("Discovered 1 time(s)."));
    let second = plugin.discover(None).await.unwrap();
    assert_eq!(
        second.apis[0].description.as_deref(),
        Some("Discovered 2 time(s)."),
        "the count survives in the host's kv store across fresh instances"
    );
    let info = plugin.describe_gateway().await.unwrap();
    assert_eq!(info.kind, kind);
    match plugin.collect_usage(None, 10).await {
        Err(CallError::Plugin {
            error: PluginError::Unsupported(message),
            ..
        }) => assert!(message.contains("collect-usage"), "{message}"),
        other => panic!("expected an unsupported error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_connector_answers_like_the_rust_one() {
    discovers_twice_and_counts_in_kv("hello-connector-js", "javascript", "hello-js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_connector_answers_like_the_rust_one() {
    discovers_twice_and_counts_in_kv("hello-connector-py", "python", "hello-py").await;
}
