//! The server's own endpoints, start-up checks and the bundled plugins.

use portico_tests::{AppSpec, guests, spawn_app};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(AppSpec::default()).await;
    let health: serde_json::Value = app.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);

    let metrics = app.get("/metrics").await;
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text().await.unwrap();
    assert!(text.contains("portico_http_requests_total"), "{text}");
    assert!(text.contains("portico_plugins_loaded"), "{text}");
}

#[tokio::test]
async fn unknown_routes_get_problem_json() {
    let app = spawn_app(AppSpec::default()).await;
    let response = app.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    assert!(problem["type"].as_str().unwrap().ends_with("/not-found"));

    let response = app.get("/api/v1/plugins/no-such-plugin").await;
    assert_eq!(response.status(), 404);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no-such-plugin")
    );
}

#[tokio::test]
async fn plugins_api_lists_bundled_and_installed_plugins_with_their_contract() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::HELLO_CONNECTOR],
        ..Default::default()
    })
    .await;
    let plugins: serde_json::Value = app.get("/api/v1/plugins").await.json().await.unwrap();
    let plugins = plugins.as_array().unwrap();
    let find = |id: &str| {
        plugins
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };

    let bundled = find("connector-openapi");
    assert_eq!(bundled["origin"]["kind"], "bundled");
    assert_eq!(bundled["world"], "gateway-connector");

    let hello = find("hello-connector");
    assert_eq!(hello["origin"]["kind"], "file");
    assert_eq!(hello["wit_version"], "0.1.1");
    assert_eq!(hello["health"]["state"], "healthy");
    assert!(hello["limits"]["memory_mb"].as_u64().unwrap() > 0);
    assert!(hello["limits"]["time_ms"].as_u64().unwrap() > 0);
    assert!(hello["capabilities"].is_object());

    let one: serde_json::Value = app
        .get("/api/v1/plugins/hello-connector")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "hello-connector");
}

#[tokio::test]
async fn the_tutorial_connector_runs_and_keeps_its_count_in_the_database() {
    let app = spawn_app(AppSpec {
        plugins: vec![guests::HELLO_CONNECTOR],
        ..Default::default()
    })
    .await;
    let plugin = app.plugin("hello-connector");
    let first = plugin.discover(None).await.unwrap();
    let second = plugin.discover(None).await.unwrap();
    assert_eq!(first.apis[0].name, "hello");
    assert_ne!(
        first.apis[0].description, second.apis[0].description,
        "the kv count moves"
    );
    let kv = portico_catalog::SqliteKv::new(app.server.state.db().clone());
    assert_eq!(
        kv.get("hello-connector", "calls").unwrap().as_deref(),
        Some(&b"2"[..])
    );
}

#[tokio::test]
async fn bundled_openapi_connector_discovers_apis_from_a_spec_server() {
    use axum::routing::get;
    let spec = serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "Pet Store", "version": "1.2.0", "description": "Pets." },
        "servers": [{ "url": "https://pets.example.com/v1" }],
        "paths": {}
    });
    let router = axum::Router::new().route(
        "/petstore.json",
        get(move || async move { axum::Json(spec) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let settings = portico::config::PluginSettings {
        allowed_outbound_hosts: Some(vec![format!("http://127.0.0.1:{}", addr.port())]),
        allow_private_addresses: true,
        config: crate::hostile::toml_table(&format!(
            "urls = [\"http://127.0.0.1:{}/petstore.json\"]",
            addr.port()
        )),
        ..Default::default()
    };
    let app = spawn_app(AppSpec {
        settings: vec![("connector-openapi", settings)],
        ..Default::default()
    })
    .await;
    let page = app
        .plugin("connector-openapi")
        .discover(None)
        .await
        .unwrap();
    let api = &page.apis[0];
    assert_eq!(api.title.as_deref(), Some("Pet Store"));
    assert_eq!(api.version.as_deref(), Some("1.2.0"));
    assert_eq!(
        api.environments[0].base_urls,
        ["https://pets.example.com/v1"]
    );
}

#[tokio::test]
async fn demo_content_is_seeded_once() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..Default::default()
    })
    .await;
    let state = &app.server.state;
    let payments = portico_catalog::EntityRef::new("api", "default", "payments");
    let versions = state.catalog().versions(&payments).unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    portico::demo::seed(state.catalog().as_ref(), app.data_dir.path()).unwrap();
    assert_eq!(state.catalog().versions(&payments).unwrap(), versions);
    portico::demo::seed_products(state.db()).unwrap();
    let products: serde_json::Value = app.get("/api/v1/products").await.json().await.unwrap();
    let pet_store: Vec<&serde_json::Value> = products
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "pet-store")
        .collect();
    assert_eq!(pet_store.len(), 1, "{products}");
    assert_eq!(
        pet_store[0]["apis"],
        serde_json::json!(["api:default/petstore"])
    );
    let plans: Vec<(&str, &str)> = pet_store[0]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["approval"].as_str().unwrap()))
        .collect();
    assert_eq!(plans, [("free", "auto"), ("pro", "manual")]);

    let page: serde_json::Value = app
        .get("/api/catalog/entities?filter=kind=api&fields=metadata.name")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page.as_array().unwrap().len(), 5, "{page}");
    // Two sources: the demo's descriptor files and its gateway, which found
    // the portal's own API through the bundled connector-openapi.
    let search: serde_json::Value = app.get("/api/v1/apis?limit=50").await.json().await.unwrap();
    let sources: std::collections::BTreeSet<&str> = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["source"].as_str().unwrap().split(':').next().unwrap())
        .collect();
    assert_eq!(sources, ["file", "gateway"].into(), "{search}");
    let runs: serde_json::Value = app
        .get("/api/v1/gateways/portal/runs")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(runs[0]["status"], "succeeded", "{runs}");
    let petstore = state
        .catalog()
        .operations(&portico_catalog::EntityRef::new(
            "api", "default", "petstore",
        ))
        .unwrap();
    assert_eq!(
        petstore.len(),
        4,
        "the demo spec's operations are indexed: {petstore:?}"
    );
}

#[tokio::test]
async fn openapi_document_is_served_and_describes_the_api() {
    let app = spawn_app(AppSpec::default()).await;
    let doc: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/api/v1/plugins"]["get"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}
