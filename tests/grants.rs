//! What the admin sees of each plugin: requested against granted for every
//! capability and limit (the operator can only narrow), and the call figures
//! the runtime keeps (calls, failures by kind, p50/p99, peak memory, last
//! errors), in `/api/v1/plugins/{id}` and on the `/plugins` page.

use portico::config::PluginSettings;
use portico_runtime::CallError;
use portico_tests::{AppSpec, guests, spawn_app};

#[tokio::test]
async fn calls_and_failures_are_counted_and_read_back_with_the_grants() {
    let settings = PluginSettings {
        // The manifest asks for http://127.0.0.1:* and 64 KiB of kv, 16 MiB, 5 s.
        allowed_outbound_hosts: Some(vec![
            "http://127.0.0.1:9".into(),
            "https://example.com".into(),
        ]),
        kv_quota_bytes: Some(1024),
        memory_mb: Some(128),
        time_ms: Some(2000),
        ..Default::default()
    };
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_ECHO_CONNECTOR],
        settings: vec![("fixture-echo-connector", settings)],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-echo-connector");
    for _ in 0..3 {
        plugin.discover(None).await.unwrap();
    }
    let err = plugin.fetch_spec("nope", None).await.unwrap_err();
    assert!(matches!(err, CallError::Plugin { .. }), "{err}");

    let info: serde_json::Value = app
        .get("/api/v1/plugins/fixture-echo-connector")
        .await
        .json()
        .await
        .unwrap();
    let health = &info["health"];
    assert_eq!(health["calls"], 4);
    assert_eq!(health["failures"]["plugin_error"], 1);
    let p50 = health["p50_call_us"].as_u64().unwrap();
    let p99 = health["p99_call_us"].as_u64().unwrap();
    assert!(p50 > 0 && p99 >= p50, "p50 {p50}, p99 {p99}");
    let peak = health["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak > 0 && peak <= 16 << 20, "peak {peak}");
    let last = &health["last_errors"][0];
    assert_eq!(last["kind"], "plugin_error");
    assert!(
        last["message"].as_str().unwrap().contains("no API `nope`"),
        "{last}"
    );
    assert!(last["at"].as_str().unwrap().ends_with('Z'), "{last}");

    let grants = &info["grants"];
    let hosts = &grants["outbound_hosts"];
    assert_eq!(
        hosts["requested"],
        serde_json::json!(["http://127.0.0.1:*"])
    );
    assert_eq!(hosts["granted"], serde_json::json!(["http://127.0.0.1:9"]));
    assert_eq!(
        hosts["not_granted"],
        serde_json::json!(["https://example.com: not within what the manifest asks for"])
    );
    assert_eq!(info["granted_outbound_hosts"], hosts["granted"]);
    assert_eq!(grants["kv_quota_bytes"]["requested"], 65536);
    assert_eq!(grants["kv_quota_bytes"]["granted"], 1024);
    // The operator may lower a limit, never raise it.
    assert_eq!(grants["memory_mb"]["operator"], 128);
    assert_eq!(grants["memory_mb"]["granted"], 16);
    assert_eq!(grants["time_ms"]["granted"], 2000);
    assert_eq!(info["limits"]["time_ms"], 2000);
    assert_eq!(grants["secrets"]["requested"], serde_json::json!(["token"]));
    assert_eq!(grants["secrets"]["granted"], serde_json::json!([]));

    let page = app.get("/plugins").await.text().await.unwrap();
    assert!(
        page.contains("id=\"plugin-fixture-echo-connector\""),
        "{page}"
    );
    assert!(page.contains("no API `nope`") || page.contains("no API &#96;nope&#96;"));
    assert!(page.contains("https://example.com: not within what the manifest asks for"));
    assert!(page.contains("1024 bytes"));
}

#[tokio::test]
async fn an_operator_cannot_widen_the_kv_quota_a_plugin_asked_for() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_ECHO_CONNECTOR],
        settings: vec![(
            "fixture-echo-connector",
            PluginSettings {
                kv_quota_bytes: Some(10 << 20),
                ..Default::default()
            },
        )],
        ..Default::default()
    })
    .await;
    let info = app.plugin("fixture-echo-connector").info();
    assert_eq!(info.grants.kv_quota_bytes.granted, 65536);
    // Without an operator list, the manifest's hosts are granted as asked.
    assert_eq!(info.granted_outbound_hosts, ["http://127.0.0.1:*"]);
}

#[tokio::test]
async fn a_narrowed_kv_quota_is_enforced_not_only_reported() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_ECHO_CONNECTOR],
        settings: vec![(
            "fixture-echo-connector",
            PluginSettings {
                kv_quota_bytes: Some(8),
                ..Default::default()
            },
        )],
        ..Default::default()
    })
    .await;
    // The manifest asks for 64 KiB; with 8 bytes, discover's first write fails.
    let err = app
        .plugin("fixture-echo-connector")
        .discover(None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("key-value quota of 8 bytes exceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn an_open_ended_host_request_grants_nothing_until_the_operator_names_hosts() {
    let app = spawn_app(AppSpec::default()).await;
    // The bundled OpenAPI connector asks for any host the operator names.
    let info = app.plugin("connector-openapi").info();
    let hosts = &info.grants.outbound_hosts;
    assert_eq!(hosts.requested, ["https://*:*", "http://*:*"]);
    assert!(hosts.granted.is_empty(), "{hosts:?}");
    assert!(hosts.not_granted[0].contains("open-ended"), "{hosts:?}");
}
