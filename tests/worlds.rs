//! The happy path of every world, through the real server's loaded plugins.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use portico::config::PluginSettings;
use portico_runtime::worlds::{SpecDocument, SpecFormat, billing, renderer, sandbox, widget};
use portico_tests::{AppSpec, guests, spawn_app};

use crate::hostile::toml_table;

/// A tiny real HTTP peer on port 0 for plugins to call.
async fn peer(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn theme() -> portico_runtime::worlds::Theme {
    portico::branding::Branding::default().theme()
}

#[tokio::test]
async fn connector_uses_config_secrets_kv_and_granted_outbound_http() {
    let addr = peer(Router::new().route("/ping", get(|| async { "pong from peer" }))).await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("token");
    std::fs::write(&secret_file, "s3cret-value\n").unwrap();
    let settings = PluginSettings {
        allowed_outbound_hosts: Some(vec![format!("http://127.0.0.1:{}", addr.port())]),
        allow_private_addresses: true,
        config: toml_table(&format!(
            "api_name = \"orders\"\nbase_url = \"http://127.0.0.1:{}\"",
            addr.port()
        )),
        secrets: [(
            "token".to_owned(),
            format!("file:{}", secret_file.display()),
        )]
        .into(),
        ..Default::default()
    };
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_ECHO_CONNECTOR],
        settings: vec![("fixture-echo-connector", settings)],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-echo-connector");

    let info = plugin.describe_gateway().await.unwrap();
    assert_eq!(info.kind, "fixture");

    let first = plugin.discover(None).await.unwrap();
    let api = &first.apis[0];
    assert_eq!(api.name, "orders");
    assert_eq!(api.title.as_deref(), Some("pong from peer"));
    let description = api.description.clone().unwrap_or_default();
    assert!(description.contains("token has 12 chars"), "{description}");
    assert!(
        !description.contains("s3cret"),
        "the secret itself never leaves: {description}"
    );

    // The kv counter persists across calls (fresh instances, shared storage).
    let second = plugin.discover(None).await.unwrap();
    assert_ne!(first.apis[0].description, second.apis[0].description);

    let spec = plugin
        .fetch_spec("echo", None)
        .await
        .unwrap()
        .expect("a spec");
    assert_eq!(spec.format, SpecFormat::Openapi31);
}

#[tokio::test]
async fn renderer_turns_a_spec_into_html_and_markdown() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_RENDERER],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-renderer");
    assert!(
        plugin
            .renderer_formats()
            .await
            .unwrap()
            .contains(&SpecFormat::Openapi31)
    );
    let spec = SpecDocument {
        format: SpecFormat::Openapi31,
        media_type: "application/json".into(),
        content: r#"{"openapi":"3.1.0"}"#.into(),
        source: None,
    };
    let options = renderer::RenderOptions {
        theme: theme(),
        base_path: "/apis/default/x/docs".into(),
        try_it_endpoint: None,
        servers: vec![],
        code_sample_languages: vec!["curl".into()],
        locale: "en".into(),
    };
    let rendered = plugin.render_docs(&spec, &options).await.unwrap();
    assert!(rendered.html.contains(r#"{"openapi":"3.1.0"}"#));
    assert_eq!(rendered.markdown, spec.content);
}

#[tokio::test]
async fn widget_describes_itself_and_renders_svg() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_WIDGET],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-widget");
    let widgets = plugin.describe_widgets().await.unwrap();
    assert_eq!(widgets[0].id, "calls");
    let request = widget::RenderRequest {
        widget_id: "calls".into(),
        series: vec![widget::Series {
            metric: widget::Metric::Calls,
            label: String::new(),
            points: (0..3)
                .map(|i| widget::Point {
                    at: i * 60_000,
                    value: i as f64,
                })
                .collect(),
        }],
        quota_limit: None,
        theme: theme(),
        width: 300,
        height: 100,
        locale: "en".into(),
    };
    let svg = plugin.render_widget(&request).await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<title>"), "{svg}");
    assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
}

#[tokio::test]
async fn billing_rates_usage_beyond_the_included_calls() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_BILLING],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-billing");
    let plans = plugin.billing_plans().await.unwrap();
    assert_eq!(plans[0].id, "flat");
    let request = billing::RatingRequest {
        plan_id: "flat".into(),
        app_id: "app-1".into(),
        period_start: 0,
        period_end: 86_400_000,
        usage: vec![billing::UsageLine {
            api: "api:default/orders".into(),
            operation: None,
            calls: 1_500,
            errors: 3,
        }],
    };
    let lines = plugin.rate(&request).await.unwrap();
    let total: i64 = lines.iter().map(|l| l.amount.minor_units).sum();
    assert_eq!(total, 500, "500 calls beyond 1,000 at one cent");
    assert!(lines.iter().all(|l| l.amount.currency == "EUR"));
}

#[tokio::test]
async fn sandbox_answers_and_enforces_authentication() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_SANDBOX],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("fixture-sandbox");
    let request = |authenticated| sandbox::SandboxRequest {
        api: "api:default/pets".into(),
        version: "1.0.0".into(),
        spec: SpecDocument {
            format: SpecFormat::Openapi31,
            media_type: "application/json".into(),
            content: "{}".into(),
            source: None,
        },
        developer_id: "dev-1".into(),
        method: "GET".into(),
        path: "/pets/7".into(),
        query: vec![],
        headers: vec![],
        body: vec![],
        authenticated,
    };
    let ok = plugin.sandbox_handle(&request(true)).await.unwrap();
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.body).contains("/pets/7"));
    assert_eq!(
        plugin.sandbox_handle(&request(false)).await.unwrap().status,
        401
    );
    plugin
        .sandbox_reset("api:default/pets", "dev-1")
        .await
        .unwrap();
}

#[tokio::test]
async fn calling_a_function_of_another_world_is_a_typed_error() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::FIXTURE_WIDGET],
        ..Default::default()
    })
    .await;
    let err = app
        .plugin("fixture-widget")
        .discover(None)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("serves `analytics-widget`, not `gateway-connector`"),
        "{err}"
    );
}
