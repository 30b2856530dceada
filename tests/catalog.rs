//! The catalogue end to end: Backstage's example catalogue imported, then read
//! through the Backstage-compatible API and the CLI, as Backstage scripts would;
//! and the demo catalogue's API versions through `/api/v1/apis`.

use std::path::PathBuf;

use portico_catalog::{ImportOptions, import_paths};
use portico_tests::{AppSpec, TestApp, portico_bin, spawn_app};
use serde_json::Value;

fn backstage_examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../host/catalog/fixtures/backstage-examples")
}

async fn app_with_examples() -> TestApp {
    let app = spawn_app(AppSpec::default()).await;
    let store = app.server.state.catalog().clone();
    let report = tokio::task::spawn_blocking(move || {
        import_paths(
            store.as_ref(),
            &[backstage_examples().canonicalize().unwrap()],
            &ImportOptions::default(),
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert!(report.added.len() > 50, "{report:?}");
    app
}

async fn json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn entities_are_listed_with_backstage_filters_fields_and_paging() {
    let app = app_with_examples().await;
    let apis = json(
        &app,
        "/api/catalog/entities?filter=kind=api&fields=kind,metadata.name",
    )
    .await;
    let apis = apis.as_array().unwrap();
    assert!(!apis.is_empty());
    assert!(
        apis.iter()
            .all(|e| e["kind"] == "API" && e.get("spec").is_none()),
        "{apis:?}"
    );

    // Two filters are OR'd; conditions within one are AND'd.
    let either = json(
        &app,
        "/api/catalog/entities?filter=kind=system&filter=kind=domain&fields=kind",
    )
    .await;
    let kinds: Vec<&str> = either
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"System") && kinds.contains(&"Domain"),
        "{kinds:?}"
    );

    let first = app
        .get("/api/catalog/entities?filter=kind=user&limit=5&fields=metadata.name")
        .await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let next_path = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let first: Value = first.json().await.unwrap();
    let second = json(&app, &next_path).await;
    assert_eq!(first.as_array().unwrap().len(), 5);
    assert_ne!(first[0], second[0], "the next page moves on");
}

#[tokio::test]
async fn by_query_pages_with_cursors_and_full_text() {
    let app = app_with_examples().await;
    let page = json(
        &app,
        "/api/catalog/entities/by-query?filter=kind=group&limit=3&orderField=metadata.name,asc",
    )
    .await;
    let total = page["totalItems"].as_u64().unwrap();
    assert!(total > 3);
    let mut seen = page["items"].as_array().unwrap().len() as u64;
    let mut cursor = page["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let next = json(
            &app,
            &format!("/api/catalog/entities/by-query?cursor={c}&limit=3"),
        )
        .await;
        seen += next["items"].as_array().unwrap().len() as u64;
        cursor = next["pageInfo"]["nextCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, total, "cursors walk every group once");

    let found = json(
        &app,
        "/api/catalog/entities/by-query?fullTextFilterTerm=artist",
    )
    .await;
    assert!(found["totalItems"].as_u64().unwrap() >= 1, "{found}");
}

#[tokio::test]
async fn by_name_by_refs_and_facets_answer_like_backstage() {
    let app = app_with_examples().await;
    let entity = json(
        &app,
        "/api/catalog/entities/by-name/component/default/artist-lookup",
    )
    .await;
    assert_eq!(entity["metadata"]["name"], "artist-lookup");
    let relations = entity["relations"].as_array().unwrap();
    assert!(
        relations.iter().any(|r| r["type"] == "ownedBy"),
        "{relations:?}"
    );

    let missing = app
        .get("/api/catalog/entities/by-name/component/default/no-such-thing")
        .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );

    let by_refs: Value = app
        .client
        .post(format!("{}/api/catalog/entities/by-refs", app.base))
        .json(&serde_json::json!({ "entityRefs": ["component:default/artist-lookup", "api:default/missing"], "fields": ["metadata.name"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_refs["items"][0]["metadata"]["name"], "artist-lookup");
    assert!(by_refs["items"][1].is_null());

    let malformed = app
        .client
        .post(format!("{}/api/catalog/entities/by-refs", app.base))
        .header("content-type", "application/json")
        .body("{\"entityRefs\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );

    let facets = json(&app, "/api/catalog/entity-facets?facet=kind").await;
    let kinds = facets["facets"]["kind"].as_array().unwrap();
    assert!(
        kinds
            .iter()
            .any(|f| f["value"] == "User" && f["count"].as_u64().unwrap() > 5),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn malformed_filters_get_problem_json() {
    let app = app_with_examples().await;
    let response = app
        .get("/api/catalog/entities?order=sideways:metadata.name")
        .await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("sideways"),
        "{problem}"
    );
}

#[tokio::test]
async fn api_search_puts_exact_name_matches_first() {
    let app = app_with_examples().await;
    let results = json(&app, "/api/v1/apis?q=petstore").await;
    let hits = results["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{results}");
    assert_eq!(hits[0]["name"], "petstore");
    assert!(
        hits.iter()
            .all(|h| h["kind"].as_str().unwrap().eq_ignore_ascii_case("api"))
    );
}

#[test]
fn cli_import_reports_what_it_did_and_names_the_invalid_entity() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        std::process::Command::new(portico_bin())
            .args(["catalog", "import"])
            .arg(backstage_examples())
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let first = run();
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(1),
        "some entities are rejected: {text}"
    );
    assert!(
        text.contains("invalid-component.yaml") && text.contains("invalid component"),
        "{text}"
    );
    let added: usize = text.split(" added").next().unwrap().trim().parse().unwrap();
    assert!(added > 50, "{text}");

    // Re-importing identical content changes nothing.
    let second = run();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(text.starts_with("0 added, 0 changed"), "{text}");

    let export = std::process::Command::new(portico_bin())
        .args(["catalog", "export", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let entities: Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(entities.as_array().unwrap().len(), added);
}

#[test]
fn cli_validate_checks_without_importing() {
    let out = std::process::Command::new(portico_bin())
        .args(["catalog", "validate"])
        .arg(backstage_examples().join("components/invalid-component.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 valid, 1 rejected") && text.contains("metadata.name"),
        "{text}"
    );
}

async fn demo_app() -> TestApp {
    spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await
}

#[tokio::test]
async fn an_api_answers_with_its_versions_newest_first_and_its_latest_operations() {
    let app = demo_app().await;
    let api = json(&app, "/api/v1/apis/default/payments").await;
    assert_eq!(api["entity_ref"], "api:default/payments");
    assert_eq!(api["title"], "Payments");
    assert_eq!(api["owner"], "group:default/payments-team");
    assert_eq!(api["lifecycle"], "production");
    assert_eq!(api["latest_version"], "2.1.0");
    let versions = api["versions"].as_array().unwrap();
    let names: Vec<&str> = versions
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2.1.0", "1.8.0"]);
    assert_eq!(versions[0]["lifecycle"], "production");
    assert_eq!(versions[1]["lifecycle"], "deprecated");
    assert_eq!(versions[1]["sunset"], "2027-06-30");
    let sandbox = versions[0]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "sandbox")
        .expect("a sandbox environment");
    assert_eq!(sandbox["url"], "https://sandbox.payments.example.com");
    assert_eq!(
        versions[0]["spec_url"],
        "/api/v1/apis/default/payments/versions/2.1.0/spec"
    );
    let mut ops: Vec<&str> = api["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation_id"].as_str().unwrap())
        .collect();
    ops.sort_unstable();
    assert_eq!(ops, ["createCharge", "createRefund", "listPayouts"]);

    let missing = app.get("/api/v1/apis/default/no-such-api").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn one_version_answers_with_its_own_operations_and_environments() {
    let app = demo_app().await;
    let old = json(&app, "/api/v1/apis/default/payments/versions/1.8.0").await;
    assert_eq!(old["api"], "api:default/payments");
    assert_eq!(old["version"], "1.8.0");
    assert!(old["migration"].as_str().unwrap().contains("currency"));
    let ops: Vec<&str> = old["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["operation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["createCharge", "getCharge"]);
    assert_eq!(
        old["environments"][1]["url"],
        "https://sandbox.payments.example.com/v1"
    );
    let missing = app
        .get("/api/v1/apis/default/payments/versions/9.9.9")
        .await;
    assert_eq!(missing.status(), 404);
    let problem: Value = missing.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("9.9.9"),
        "{problem}"
    );
}

#[tokio::test]
async fn spec_documents_are_served_as_stored_with_their_hash_as_etag() {
    let app = demo_app().await;
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog/specs");
    let path = "/api/v1/apis/default/legacy-orders/versions/1.4.0/spec";
    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/yaml; charset=utf-8"
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let stored = std::fs::read_to_string(examples.join("orders-v1.yaml")).unwrap();
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            portico_catalog::spec::content_hash(stored.as_bytes())
        )
    );
    assert_eq!(
        response.text().await.unwrap(),
        stored,
        "Swagger 2.0 as written, not converted"
    );

    let again = app
        .client
        .get(format!("{}{path}", app.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.text().await.unwrap().is_empty());

    let doc = json(&app, "/openapi.json").await;
    for documented in [
        "/api/v1/apis",
        "/api/v1/apis/{namespace}/{name}",
        "/api/v1/apis/{namespace}/{name}/versions/{version}",
        "/api/v1/apis/{namespace}/{name}/versions/{version}/spec",
    ] {
        assert!(doc["paths"][documented]["get"].is_object(), "{documented}");
    }
}
