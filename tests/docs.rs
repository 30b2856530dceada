//! API docs end to end: a registered API's docs page and its markdown twin
//! rendered by the bundled `docs-openapi` plugin, a spec that does not render,
//! Swagger 2.0 through the host's conversion, and every document of the
//! shared corpus (`../shared/corpus/openapi`) rendered without error.

use std::path::{Path, PathBuf};

use portico::docs::DocsRequest;
use portico_catalog::spec::{ParsedSpec, SpecHint, VersionLifecycle, content_hash};
use portico_catalog::{EntityRef, SpecDocument, VersionDraft};
use portico_tests::{AppSpec, TestApp, spawn_app};

const CATALOG: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: petstore
  title: Petstore
spec:
  type: openapi
  lifecycle: production
  owner: pets-team
  definition:
    $text: ./petstore.yaml
";

const PETSTORE: &str = r##"openapi: 3.0.3
info:
  title: Petstore
  version: 1.0.0
  description: Adopt and look after **pets**.
servers:
  - url: https://petstore.example.com/v1
tags:
  - name: pets
    description: Everything about pets
  - name: store
security:
  - api_key: []
paths:
  /pets:
    get:
      tags: [pets]
      summary: List all pets
      operationId: listPets
      parameters:
        - name: limit
          in: query
          description: How many to return
          schema: {type: integer, maximum: 100}
      responses:
        '200':
          description: A page of pets
          content:
            application/json:
              schema:
                type: array
                items: {$ref: '#/components/schemas/Pet'}
    post:
      tags: [pets]
      summary: Add a pet
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/NewPet'}
      responses:
        '201':
          description: The pet
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
  /orders:
    post:
      tags: [store]
      summary: Place an order
      operationId: placeOrder
      responses:
        '204': {description: Placed}
components:
  securitySchemes:
    api_key: {type: apiKey, in: header, name: X-Api-Key}
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string, example: Rex}
        species: {type: string, enum: [cat, dog], nullable: true}
    Pet:
      allOf:
        - {$ref: '#/components/schemas/NewPet'}
        - type: object
          properties:
            id: {type: integer, format: int64, readOnly: true}
"##;

/// A server whose catalogue holds the petstore API with the document above.
async fn app_with_petstore() -> TestApp {
    let app = spawn_app(AppSpec::default()).await;
    app.import_catalog(&[("catalog-info.yaml", CATALOG), ("petstore.yaml", PETSTORE)])
        .await;
    app
}

async fn text(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn docs_page_shows_operations_by_tag_schemas_samples_and_contents() {
    let app = app_with_petstore().await;
    let response = app.get("/apis/default/petstore/docs").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("content-security-policy"));
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<title>Petstore docs – Portico</title>"),
        "{html}"
    );
    // Operations grouped by tag, in the document's tag order.
    let pets = html
        .find("<section class=\"tag-group\" id=\"tag-pets\">\n<h2>pets</h2>")
        .expect("pets tag");
    let store = html
        .find("<section class=\"tag-group\" id=\"tag-store\">\n<h2>store</h2>")
        .expect("store tag");
    let list = html
        .find("<section class=\"op\" id=\"op-listpets\">\n<h3>List all pets</h3>")
        .expect("listPets");
    let place = html.find("<h3>Place an order</h3>").expect("placeOrder");
    assert!(pets < list && list < store && store < place);
    // A schema property as an expandable tree, with allOf merged and readOnly left out of requests.
    assert!(html.contains("<code class=\"prop-name\">name</code> <span class=\"prop-type\">string</span> <span class=\"flag flag-required\">required</span>"));
    assert!(html.contains("<span class=\"flag flag-nullable\">nullable</span>"));
    assert!(html.contains("<details class=\"definition\" id=\"schema-pet\">"));
    assert!(html.contains("<code>&quot;cat&quot;</code>"));
    // Code samples, with the API key from the security scheme.
    assert!(
        html.contains("curl -X POST &#39;https://petstore.example.com/v1/pets&#39;"),
        "{html}"
    );
    assert!(html.contains("-H &#39;X-Api-Key: YOUR_API_KEY&#39;"));
    assert!(html.contains("requests.post("));
    assert!(html.contains("reqwest::Client::new()"));
    assert!(html.contains("await fetch("));
    // The table of contents links to every operation's anchor.
    assert!(html.contains("<nav class=\"docs-toc\" aria-label=\"Contents\">"));
    assert!(html.contains("<li><a href=\"#op-createpet\">Add a pet</a></li>"));
    assert!(html.contains("<a href=\"#authentication\">Authentication</a>"));
    // Markdown descriptions are rendered; nothing runs scripts.
    assert!(html.contains("Adopt and look after <strong>pets</strong>."));
    assert!(!html.to_lowercase().contains("<script"));
    // Links to the markdown twin and the raw spec.
    assert!(html.contains("href=\"/apis/default/petstore/versions/1.0.0/docs.md\""));
    assert!(html.contains("href=\"/api/v1/apis/default/petstore/versions/1.0.0/spec\" download"));

    let again = app
        .client
        .get(format!("{}/apis/default/petstore/docs", app.base))
        .bearer_auth(&app.admin_token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "unchanged docs are not sent again");

    let (status, _, versioned) = text(&app, "/apis/default/petstore/versions/1.0.0/docs").await;
    assert_eq!(status, 200);
    assert!(versioned.contains("<h3>List all pets</h3>"));

    let (_, _, api_page) = text(&app, "/apis/default/petstore").await;
    assert!(
        api_page.contains("href=\"/apis/default/petstore/docs\""),
        "the API page links its docs"
    );
    assert!(api_page.contains("href=\"/apis/default/petstore/versions/1.0.0/docs\""));

    for missing in [
        "/apis/default/nope/docs",
        "/apis/default/petstore/versions/9.9.9/docs",
    ] {
        assert_eq!(app.get(missing).await.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn docs_markdown_twin_has_the_same_content_as_text() {
    let app = app_with_petstore().await;
    for path in [
        "/apis/default/petstore/docs.md",
        "/apis/default/petstore/versions/1.0.0/docs.md",
    ] {
        let (status, content_type, md) = text(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(content_type, "text/markdown; charset=utf-8");
        assert!(md.starts_with("# Petstore 1.0.0\n"), "{md}");
        assert!(
            md.contains("- [pets](#tag-pets)\n  - [List all pets](#op-listpets)"),
            "{md}"
        );
        assert!(md.contains("## pets\n\nEverything about pets"));
        assert!(md.contains("### Add a pet\n\n`POST /pets`"));
        assert!(md.contains("- `name` *string*, required"), "{md}");
        assert!(
            md.contains("| `limit` | query | *integer* | no | How many to return |"),
            "{md}"
        );
        assert!(
            md.contains("```shell\ncurl -X GET 'https://petstore.example.com/v1/pets'"),
            "{md}"
        );
        assert!(md.contains("### Pet\n"));
    }
    assert_eq!(app.get("/apis/default/nope/docs.md").await.status(), 404);
}

#[tokio::test]
async fn docs_of_a_spec_that_does_not_render_show_an_error_box_and_the_download_link() {
    let app = app_with_petstore().await;
    let broken = "{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"Petstore\"}, \"paths\": {";
    let draft = VersionDraft {
        version: "2.0.0".into(),
        document: SpecDocument {
            hash: content_hash(broken.as_bytes()),
            format: "openapi30".into(),
            media_type: "application/json".into(),
            content: broken.into(),
        },
        operations: Vec::new(),
        lifecycle: VersionLifecycle::Production,
        migration: None,
        environments: Vec::new(),
    };
    let store = app.server.state.catalog().clone();
    tokio::task::spawn_blocking(move || {
        store.publish_version(&EntityRef::new("api", "default", "petstore"), &draft)
    })
    .await
    .unwrap()
    .unwrap();

    let (status, _, html) = text(&app, "/apis/default/petstore/docs").await;
    assert_eq!(status, 200, "never a server error");
    assert!(
        html.contains("<div class=\"docs-error\" role=\"alert\">"),
        "{html}"
    );
    assert!(html.contains("These docs could not be rendered"));
    assert!(html.contains("<a href=\"/api/v1/apis/default/petstore/versions/2.0.0/spec\" download>Download the spec document</a>"));
    assert!(!html.contains("docs-toc"), "no contents without docs");
    let (status, _, md) = text(&app, "/apis/default/petstore/docs.md").await;
    assert_eq!(status, 200);
    assert!(md.contains("**These docs could not be rendered.**"), "{md}");
    assert!(md.contains("</api/v1/apis/default/petstore/versions/2.0.0/spec>"));

    // The older version still renders.
    let (status, _, old) = text(&app, "/apis/default/petstore/versions/1.0.0/docs").await;
    assert_eq!(status, 200);
    assert!(old.contains("<h3>List all pets</h3>"));
}

#[tokio::test]
async fn docs_of_swagger_2_render_through_the_hosts_conversion() {
    let app = spawn_app(AppSpec {
        demo: true,
        ..AppSpec::default()
    })
    .await;
    let (status, _, html) = text(&app, "/apis/default/legacy-orders/docs").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h3>List orders</h3>"), "{html}");
    assert!(
        html.contains("curl -X GET &#39;https://orders.example.com/v1/orders&#39;"),
        "{html}"
    );
}

/// The shared corpus beside the repository, when it is there.
fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/openapi");
    dir.is_dir().then_some(dir)
}

#[tokio::test]
async fn docs_render_every_corpus_document_without_error() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: no corpus at ../shared/corpus/openapi beside the repository");
        return;
    };
    let app = spawn_app(AppSpec::default()).await;
    let state = &app.server.state;
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("directory"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.push(corpus.join("stripe-spec3.2023-09-12.json"));
    files.push(corpus.join("github-api.github.com.json"));
    let mut failures = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let hint = SpecHint::from_file_name(file.to_string_lossy());
        let parsed = ParsedSpec::parse(&bytes, &hint).unwrap();
        let document = SpecDocument {
            hash: parsed.content_hash().to_owned(),
            format: parsed.format().as_str().to_owned(),
            media_type: "application/json".into(),
            content: parsed.text().to_owned(),
        };
        drop(parsed);
        let request = DocsRequest {
            base_path: "/apis/default/corpus/docs".into(),
            servers: Vec::new(),
        };
        match state
            .docs()
            .render(state.plugins().all(), state.branding(), document, request)
            .await
        {
            Ok(docs) if docs.html.contains("<section class=\"op\"") => {}
            Ok(_) => failures.push(format!("{}: no operation rendered", file.display())),
            Err(error) => failures.push(format!("{}: {error}", file.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("rendered {} corpus documents", files.len());
}
