//! Hostile plugins: each call fails within its limit with a clear error, and
//! the host keeps serving other requests meanwhile.

use std::time::{Duration, Instant};

use portico::config::PluginSettings;
use portico_runtime::{CallError, HealthState};
use portico_tests::{AppSpec, guests, spawn_app};

fn limits(time_ms: u64, memory_mb: u64) -> PluginSettings {
    PluginSettings {
        time_ms: Some(time_ms),
        memory_mb: Some(memory_mb),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_that_loops_forever_is_stopped_and_host_keeps_serving() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_LOOP],
        settings: vec![("fixture-loop", limits(300, 64))],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-loop");
    let started = Instant::now();
    let call = tokio::spawn(async move { plugin.discover(None).await });
    // While the plugin spins, the portal answers.
    for _ in 0..5 {
        assert!(app.get("/healthz").await.status().is_success());
    }
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { limit_ms: 300, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fixture-loop"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped late: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_that_allocates_without_bound_is_stopped_at_its_memory_limit() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_ALLOC],
        settings: vec![("fixture-alloc", limits(10_000, 32))],
        ..Default::default()
    })
    .await;
    let err = app
        .plugin("fixture-alloc")
        .discover(None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::OutOfMemory { limit_mb: 32, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fixture-alloc"), "{err}");
    assert!(app.get("/healthz").await.status().is_success());
}

#[tokio::test]
async fn plugin_that_panics_reports_its_panic_message() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_PANIC],
        ..Default::default()
    })
    .await;
    let err = app
        .plugin("fixture-panic")
        .discover(None)
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("fixture-panic") && text.contains("fixture panicked on purpose"),
        "{text}"
    );
    // The next call gets a fresh instance and fails the same way, not worse.
    let again = app
        .plugin("fixture-panic")
        .discover(None)
        .await
        .unwrap_err();
    assert!(matches!(again, CallError::Trap { .. }), "{again}");
}

/// Runs `fixture-forbidden-host` with `settings` and returns the host's reason for the denial.
async fn denial_reason(settings: PluginSettings) -> String {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_FORBIDDEN_HOST],
        settings: vec![("fixture-forbidden-host", settings)],
        ..Default::default()
    })
    .await;
    let err = app
        .plugin("fixture-forbidden-host")
        .discover(None)
        .await
        .unwrap_err();
    let CallError::Denied { reason, .. } = err else {
        panic!("expected a denial, got {err}")
    };
    reason
}

#[tokio::test]
async fn plugin_calling_a_host_outside_its_allowlist_is_denied() {
    let reason = denial_reason(PluginSettings {
        config: toml_table("target = \"http://example.com/secret\""),
        ..Default::default()
    })
    .await;
    assert!(reason.contains("example.com"), "{reason}");
    assert!(
        reason.contains("not in the plugin's allowed outbound hosts"),
        "{reason}"
    );
}

#[tokio::test]
async fn allowed_host_resolving_to_a_private_address_is_denied_unless_granted() {
    // The plugin may reach "localhost" by name, but localhost is loopback.
    let reason = denial_reason(PluginSettings {
        allowed_outbound_hosts: Some(vec!["http://localhost:*".into()]),
        config: toml_table("target = \"http://localhost:9/\""),
        ..Default::default()
    })
    .await;
    assert!(reason.contains("loopback"), "{reason}");
}

#[tokio::test]
async fn repeated_faults_switch_a_plugin_off_and_the_api_shows_it() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_PANIC],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-panic");
    for _ in 0..5 {
        assert!(matches!(
            plugin.discover(None).await,
            Err(CallError::Trap { .. })
        ));
    }
    let err = plugin.discover(None).await.unwrap_err();
    assert!(
        matches!(err, CallError::CircuitOpen { faults: 5, .. }),
        "{err}"
    );
    assert_eq!(plugin.health().state, HealthState::SwitchedOff);

    let listed: serde_json::Value = app.get("/api/v1/plugins").await.json().await.unwrap();
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "fixture-panic")
        .unwrap();
    assert_eq!(entry["health"]["state"], "switched_off");
    assert_eq!(entry["health"]["failures"]["trap"], 5);
    assert_eq!(entry["health"]["failures"]["circuit_open"], 1);
}

#[tokio::test]
async fn plugin_built_against_an_incompatible_wit_is_refused_and_the_server_does_not_start() {
    let err = portico_tests::try_spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_WIT_V2],
        ..Default::default()
    })
    .await
    .err()
    .expect("start must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("fixture_wit_v2.wasm"),
        "names the file: {text}"
    );
    assert!(
        text.contains("portico:plugin@2.0.0") && text.contains("0.1.0"),
        "names the versions: {text}"
    );
}

pub(crate) fn toml_table(text: &str) -> toml::Table {
    text.parse().expect("valid TOML")
}

#[tokio::test]
async fn component_of_the_wrong_world_is_refused_naming_the_world() {
    let err = portico_tests::try_spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_WRONG_WORLD],
        ..Default::default()
    })
    .await
    .err()
    .expect("start must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("fixture_wrong_world.wasm"),
        "names the file: {text}"
    );
    assert!(
        text.contains("does not fit world `gateway-connector`"),
        "names the world: {text}"
    );
}
