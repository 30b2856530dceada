//! Hostile plugins: each call fails within its limit with a clear error, and
//! the host keeps serving other requests meanwhile. Loops, runaway memory,
//! panics, forbidden hosts, a 100 MB answer, a log flood, an outbound call
//! that hangs and a storm of concurrent calls.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use portico::config::PluginSettings;
use portico_runtime::{CallError, Grant, HealthState, Origin, Runtime, RuntimeConfig};
use portico_tests::{AppSpec, TestApp, guests, spawn_app};

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
    // The operator narrows the manifest's request to localhost alone.
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

/// Asserts the portal answers `/healthz` a few times.
async fn host_answers(app: &TestApp) {
    for _ in 0..3 {
        assert!(app.get("/healthz").await.status().is_success());
    }
}

/// `GET /api/v1/plugins/{id}`.
async fn info(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/api/v1/plugins/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_returning_a_100_mb_string_is_stopped_at_its_memory_limit() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_HUGE_STRING],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-huge-string");
    let call = tokio::spawn(async move { plugin.discover(None).await });
    host_answers(&app).await;
    let err = call.await.unwrap().unwrap_err();
    // The answer lives in the plugin's linear memory, so it can never outgrow it.
    assert!(
        matches!(err, CallError::OutOfMemory { limit_mb: 64, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("fixture-huge-string") && err.to_string().contains("64 MiB"),
        "{err}"
    );
    let health = &info(&app, "fixture-huge-string").await["health"];
    assert_eq!(health["failures"]["out_of_memory"], 1);
    let peak = health["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak > 0 && peak <= 64 << 20, "peak {peak}");
    host_answers(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_flooding_the_log_is_cut_at_its_quota_and_still_answers() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_LOG_FLOOD],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-log-flood");
    let call = tokio::spawn({
        let plugin = plugin.clone();
        async move { plugin.discover(None).await }
    });
    host_answers(&app).await;
    let page = call.await.unwrap().unwrap();
    assert_eq!(page.apis[0].id, "flooded");
    // The quota is per call: a second call gets its own 1,000 lines.
    plugin.discover(None).await.unwrap();
    let health = &info(&app, "fixture-log-flood").await["health"];
    assert_eq!(health["log_lines_dropped"], 2 * 99_000);
    assert_eq!(health["calls"], 2);
    assert_eq!(health["state"], "healthy");
}

/// A peer that accepts connections and never answers; dropped, it lets them go.
async fn silent_peer() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            connections.push(socket);
        }
    });
    (port, held)
}

fn hang_settings(port: u16, time_ms: u64) -> PluginSettings {
    PluginSettings {
        allowed_outbound_hosts: Some(vec![format!("http://127.0.0.1:{port}")]),
        allow_private_addresses: true,
        time_ms: Some(time_ms),
        config: toml_table(&format!("target = \"http://127.0.0.1:{port}/never\"")),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_whose_outbound_call_hangs_is_stopped_at_its_time_limit() {
    let (port, peer) = silent_peer().await;
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_HANG],
        settings: vec![("fixture-hang", hang_settings(port, 500))],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-hang");
    let started = Instant::now();
    let call = tokio::spawn(async move { plugin.discover(None).await });
    host_answers(&app).await;
    let err = call.await.unwrap().unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { limit_ms: 500, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fixture-hang"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped late: {:?}",
        started.elapsed()
    );
    peer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_1000_concurrent_calls_completes_and_the_host_keeps_answering() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_RENDERER],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-renderer");
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let plugin = plugin.clone();
            tokio::spawn(async move { plugin.renderer_formats().await })
        })
        .collect();
    host_answers(&app).await;
    let (mut answered, mut refused) = (0u64, 0u64);
    for call in calls {
        match call.await.expect("no call panics") {
            Ok(formats) => {
                assert!(!formats.is_empty());
                answered += 1;
            }
            Err(CallError::Overloaded { .. }) => refused += 1,
            Err(other) => panic!("unexpected failure: {other}"),
        }
    }
    assert_eq!(answered + refused, 1000);
    assert!(answered >= 64, "answered {answered}");
    let health = &info(&app, "fixture-renderer").await["health"];
    assert_eq!(health["calls"], answered);
    assert!(health["p99_call_us"].as_u64().unwrap() >= health["p50_call_us"].as_u64().unwrap());
    host_answers(&app).await;
}

/// Polls a future once, returning its output if it finished.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *future).poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

#[tokio::test]
async fn calls_beyond_the_queue_are_refused_at_once_with_a_clear_error() {
    let (port, peer) = silent_peer().await;
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent_calls: 1,
        max_queued_calls: 2,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let wasm = std::fs::read(guests::FIXTURE_HANG).unwrap();
    let grant = Grant {
        config: serde_json::json!({ "target": format!("http://127.0.0.1:{port}/never") }),
        allow_private_addresses: true,
        time_ms: Some(10_000),
        ..Grant::default()
    };
    let plugin = Arc::new(
        runtime
            .load(&wasm, Origin::File("fixture-hang".into()), &grant)
            .unwrap(),
    );
    // One call takes the only slot and waits on the silent peer; two queue.
    let mut running = Box::pin(plugin.discover(None));
    assert!(poll_once(&mut running).await.is_none());
    let mut queued: Vec<_> = (0..2).map(|_| Box::pin(plugin.discover(None))).collect();
    for call in &mut queued {
        assert!(poll_once(call).await.is_none(), "a queued call waits");
    }
    let err = plugin.discover(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Overloaded {
                slots: 1,
                queued: 2,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("fixture-hang") && text.contains("call slots are busy"),
        "{text}"
    );
    assert_eq!(
        plugin.health().failures[&portico_runtime::FaultKind::Overloaded],
        1
    );
    // Calls that give up waiting leave the queue: there is room again.
    drop(queued);
    let mut again = Box::pin(plugin.discover(None));
    assert!(poll_once(&mut again).await.is_none(), "queued, not refused");
    drop((running, again));
    peer.abort();
}
