//! Changelogs and deprecations end to end: a version published with a breaking change and no
//! major bump is flagged (or refused, by config), its owner edits the summary, the pages,
//! their markdown twins and the Atom feeds show it, a deprecation with a sunset reaches the
//! docs page and try-it answers (RFC 9745 and RFC 8594 headers), and visitors never see the
//! changelog of an internal API.

use axum::Router;
use axum::routing::get;
use portico::config::CatalogSettings;
use portico_catalog::BreakingChanges;
use portico_tests::{AppSpec, TestApp, spawn_app};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};

use crate::identity::{add_user, client, sign_in};

fn descriptor(name: &str, extra_metadata: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\n  title: {name} API\n{extra_metadata}spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./{name}.yaml\n"
    )
}

/// An OpenAPI document with one GET per path, served at `server`.
fn openapi(title: &str, version: &str, server: &str, paths: &[&str]) -> String {
    let mut text = format!(
        "openapi: 3.0.3\ninfo: {{title: {title}, version: '{version}'}}\nservers:\n  - url: {server}\n    description: Sandbox\npaths:\n"
    );
    for path in paths {
        text.push_str(&format!(
            "  /{path}:\n    get:\n      summary: List {path}\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    text
}

async fn text(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let response = client()
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

async fn json_get(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

const SERVER: &str = "https://pets.example.com/v1";

/// Publishes pets 1.0.0 (pets and owners) then 1.1.0 without owners.
async fn app_with_unbumped_break() -> TestApp {
    let app = spawn_app(AppSpec::default()).await;
    let pets = descriptor("pets", "");
    app.import_catalog(&[
        ("pets-info.yaml", pets.as_str()),
        (
            "pets.yaml",
            &openapi("Pets", "1.0.0", SERVER, &["pets", "owners"]),
        ),
    ])
    .await;
    app.import_catalog(&[("pets.yaml", &openapi("Pets", "1.1.0", SERVER, &["pets"]))])
        .await;
    app
}

#[tokio::test]
async fn a_breaking_minor_version_is_flagged_edited_by_its_owner_and_shown_on_pages_and_feeds() {
    let app = app_with_unbumped_break().await;
    let log = json_get(&app, "/api/v1/apis/default/pets/changelog").await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    let entry = &entries[0];
    assert_eq!(entry["version"], "1.1.0");
    assert_eq!(entry["previous_version"], "1.0.0");
    assert_eq!(entry["unbumped_breaking"], true);
    assert_eq!(entry["breaking"], 1);
    assert_eq!(entry["changes"][0]["rule"], "path-removed");
    assert_eq!(entry["changes"][0]["severity"], "breaking");
    assert!(
        entry["summary"].as_str().unwrap().contains("/owners"),
        "{entry}"
    );

    // The owner replaces the summary; the edit is audited.
    add_user(&app, "owner", "api-owner");
    let session = sign_in(&app, "owner").await;
    let edited = client()
        .put(format!(
            "{}/api/v1/apis/default/pets/changelog/1.1.0",
            app.base
        ))
        .header(COOKIE, session.header())
        .header("x-csrf-token", &session.csrf)
        .json(&json!({"summary": "Owners moved to the **people** API & <friends>."}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), StatusCode::OK);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["edited"], true);
    assert_eq!(edited["edited_by"], "owner");
    let audit = json_get(&app, "/api/v1/audit?action=api.changelog.edit").await;
    assert_eq!(audit["entries"][0]["actor_name"], "owner", "{audit}");
    assert_eq!(audit["entries"][0]["outcome"], "success");

    // A developer may not.
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
    let refused = client()
        .put(format!(
            "{}/api/v1/apis/default/pets/changelog/1.1.0",
            app.base
        ))
        .header(COOKIE, dev.header())
        .header("x-csrf-token", &dev.csrf)
        .json(&json!({"summary": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // The page: version, breaking badge, the warning, the owner's summary (escaped), changes.
    let (status, _, html) = text(&app, "/apis/default/pets/changelog").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"version-1.1.0\""), "{html}");
    assert!(html.contains("badge-bad\">Breaking"));
    assert!(html.contains("without a major version bump (1.0.0 → 1.1.0)"));
    assert!(html.contains("<strong>people</strong> API &amp; &lt;friends&gt;."));
    assert!(html.contains("/owners</code>"), "{html}");
    assert!(html.contains("Summary by owner."));

    // Its markdown twin says the same.
    let (status, content_type, md) = text(&app, "/apis/default/pets/changelog.md").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    assert!(md.contains("1.1.0") && md.contains("people"), "{md}");
    assert!(md.contains("without a major version bump"), "{md}");

    // The Atom feeds.
    for path in ["/apis/default/pets/changelog.atom", "/changelog.atom"] {
        let (status, content_type, xml) = text(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(content_type, "application/atom+xml; charset=utf-8");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        assert!(xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
        assert!(
            xml.contains("<title>pets 1.1.0: 1 breaking change</title>"),
            "{xml}"
        );
        assert!(xml.contains(&format!(
            "<id>{}/apis/default/pets/changelog#version-1.1.0</id>",
            app.base
        )));
        assert!(
            xml.contains(
                "&lt;strong&gt;people&lt;/strong&gt; API &amp;amp; &amp;lt;friends&amp;gt;."
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<entry>").count(), 2, "{xml}");
    }

    // The portal's changelog, as a page, its twin and JSON.
    let (status, _, html) = text(&app, "/changelog").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/apis/default/pets/changelog#version-1.1.0\""),
        "{html}"
    );
    let (_, _, md) = text(&app, "/changelog.md").await;
    assert!(md.contains("pets 1.1.0: 1 breaking change"), "{md}");
    let portal = json_get(&app, "/api/v1/changelog?limit=1").await;
    assert_eq!(portal["entries"].as_array().unwrap().len(), 1);
    assert_eq!(portal["entries"][0]["api"], "api:default/pets");

    // The API page links to it.
    let (_, _, html) = text(&app, "/apis/default/pets").await;
    assert!(
        html.contains("href=\"/apis/default/pets/changelog\""),
        "{html}"
    );
}

#[tokio::test]
async fn refused_breaking_changes_are_reported_and_the_previous_version_stays() {
    let app = spawn_app(AppSpec {
        catalog: CatalogSettings {
            breaking_changes: BreakingChanges::Refuse,
            ..CatalogSettings::default()
        },
        ..AppSpec::default()
    })
    .await;
    let pets = descriptor("pets", "");
    app.import_catalog(&[
        ("pets-info.yaml", pets.as_str()),
        (
            "pets.yaml",
            &openapi("Pets", "1.0.0", SERVER, &["pets", "owners"]),
        ),
    ])
    .await;
    let dir = app.data_dir.path().join("catalog");
    std::fs::write(
        dir.join("pets.yaml"),
        openapi("Pets", "1.1.0", SERVER, &["pets"]),
    )
    .unwrap();
    let store = app.server.state.catalog().clone();
    let report = tokio::task::spawn_blocking(move || {
        portico_catalog::import_paths(
            store.as_ref(),
            &[dir.canonicalize().unwrap()],
            &portico_catalog::ImportOptions::default(),
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    let reason = &report.rejected[0].reason;
    assert!(
        reason.contains("version 1.1.0")
            && reason.contains("version 1.0.0")
            && reason.contains("1 breaking change")
            && reason.contains("breaking_changes"),
        "{reason}"
    );
    let api = json_get(&app, "/api/v1/apis/default/pets").await;
    assert_eq!(api["latest_version"], "1.0.0", "{api}");
}

/// Answers every request with a small JSON body.
async fn upstream() -> String {
    let app = Router::new().route("/v1/pets", get(|| async { axum::Json(json!([])) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn a_deprecated_version_shows_its_sunset_and_try_it_answers_carry_both_headers() {
    let base = upstream().await;
    let app = spawn_app(AppSpec::default()).await;
    let pets = descriptor("pets", "");
    app.import_catalog(&[
        ("pets-info.yaml", pets.as_str()),
        ("pets.yaml", &openapi("Pets", "1.0.0", &base, &["pets"])),
    ])
    .await;
    let deprecation = format!(
        "{}/api/v1/apis/default/pets/versions/1.0.0/deprecation",
        app.base
    );
    let put = |body: Value| {
        client()
            .put(&deprecation)
            .bearer_auth(&app.admin_token)
            .json(&body)
            .send()
    };
    let bad = put(json!({"sunset": "2027-02-30"})).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let done = put(json!({"sunset": "2027-06-30", "migration": "Move to **v2**."}))
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::NO_CONTENT);

    // It survives a re-import of the same version.
    app.import_catalog(&[(
        "pets.yaml",
        &openapi("Pets", "1.0.0", &base, &["pets", "toys"]),
    )])
    .await;
    let api = json_get(&app, "/api/v1/apis/default/pets").await;
    let version = &api["versions"][0];
    assert_eq!(version["lifecycle"], "deprecated", "{api}");
    assert_eq!(version["sunset"], "2027-06-30");
    assert_eq!(version["migration"], "Move to **v2**.");
    assert!(version["deprecated_at"].is_string());

    let (status, _, html) = text(&app, "/apis/default/pets/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("This version is deprecated"), "{html}");
    assert!(html.contains("2027-06-30"));
    assert!(html.contains("Move to <strong>v2</strong>."));

    // Try-it answers and the try API's own response carry the headers.
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
    let response = client()
        .post(format!(
            "{}/api/v1/apis/default/pets/versions/1.0.0/try",
            app.base
        ))
        .header(COOKIE, dev.header())
        .header("x-csrf-token", &dev.csrf)
        .json(&json!({"method": "GET", "path": "/pets", "server": "sandbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let deprecated_header = response.headers()["deprecation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(deprecated_header.starts_with('@'), "{deprecated_header}");
    assert!(deprecated_header[1..].parse::<i64>().unwrap() > 1_700_000_000);
    assert_eq!(
        response.headers()["sunset"],
        "Wed, 30 Jun 2027 00:00:00 GMT"
    );
    let answer: Value = response.json().await.unwrap();
    let header = |name: &str| {
        answer["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .map(|h| h["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(header("deprecation"), Some(deprecated_header));
    assert_eq!(
        header("sunset").as_deref(),
        Some("Wed, 30 Jun 2027 00:00:00 GMT")
    );

    // The deprecation is in the changelog and its feed.
    let log = json_get(&app, "/api/v1/apis/default/pets/changelog").await;
    let kinds: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"deprecation"), "{log}");
    let (_, _, xml) = text(&app, "/apis/default/pets/changelog.atom").await;
    assert!(
        xml.contains("<title>pets 1.0.0 deprecated</title>"),
        "{xml}"
    );

    // Withdrawn, the version reads as its descriptor says again.
    let undone = client()
        .delete(&deprecation)
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(undone.status(), StatusCode::NO_CONTENT);
    let api = json_get(&app, "/api/v1/apis/default/pets").await;
    assert_eq!(api["versions"][0]["lifecycle"], "production");
    let audit = json_get(&app, "/api/v1/audit?action=api.version.undeprecate").await;
    assert_eq!(audit["entries"][0]["outcome"], "success", "{audit}");
}

#[tokio::test]
async fn visitors_cannot_see_the_changelog_of_an_internal_api() {
    let app = spawn_app(AppSpec::default()).await;
    let secret = descriptor(
        "secret",
        "  annotations:\n    portico.dev/visibility: internal\n",
    );
    let pets = descriptor("pets", "");
    app.import_catalog(&[
        ("secret-info.yaml", secret.as_str()),
        (
            "secret.yaml",
            &openapi("Secret", "1.0.0", SERVER, &["keys"]),
        ),
        ("pets-info.yaml", pets.as_str()),
        ("pets.yaml", &openapi("Pets", "1.0.0", SERVER, &["pets"])),
    ])
    .await;
    let (status, _, _) = text(&app, "/api/v1/apis/default/secret/changelog").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in [
        "/apis/default/secret/changelog",
        "/apis/default/secret/changelog.atom",
        "/apis/default/secret/changelog.md",
    ] {
        let (status, _, body) = text(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    for path in ["/changelog", "/changelog.atom", "/api/v1/changelog"] {
        let (status, _, body) = text(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.contains("secret"), "{path}: {body}");
        assert!(body.contains("pets"), "{path}: {body}");
    }
    // Members see it.
    let log = json_get(&app, "/api/v1/apis/default/secret/changelog").await;
    assert_eq!(log["entries"][0]["version"], "1.0.0");
}

/// Posts `document` to the preview route as `session` (or the admin token when `None`).
async fn post_diff(
    app: &TestApp,
    api: &str,
    document: &str,
    content_type: &str,
    session: Option<&crate::identity::Session>,
) -> reqwest::Response {
    let request = client()
        .post(format!("{}/api/v1/apis/default/{api}/diff", app.base))
        .header(CONTENT_TYPE, content_type)
        .body(document.to_owned());
    let request = match session {
        Some(s) => request
            .header(COOKIE, s.header())
            .header("x-csrf-token", &s.csrf),
        None => request.bearer_auth(&app.admin_token),
    };
    request.send().await.unwrap()
}

/// Publishes pets 1.0.0 (pets and owners) only.
async fn app_with_pets_1(catalog: CatalogSettings) -> TestApp {
    let app = spawn_app(AppSpec {
        catalog,
        ..AppSpec::default()
    })
    .await;
    let pets = descriptor("pets", "");
    app.import_catalog(&[
        ("pets-info.yaml", pets.as_str()),
        (
            "pets.yaml",
            &openapi("Pets", "1.0.0", SERVER, &["pets", "owners"]),
        ),
    ])
    .await;
    app
}

#[tokio::test]
async fn a_preview_says_what_publishing_a_document_would_do_and_publishes_nothing() {
    let app = app_with_pets_1(CatalogSettings::default()).await;
    add_user(&app, "owner", "api-owner");
    let owner = sign_in(&app, "owner").await;

    // A breaking minor version: published with a warning.
    let unbumped = openapi("Pets", "1.1.0", SERVER, &["pets"]);
    let response = post_diff(&app, "pets", &unbumped, "application/yaml", Some(&owner)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["api"], "api:default/pets", "{answer}");
    assert_eq!(answer["against"], "1.0.0");
    assert_eq!(answer["version"], "1.1.0");
    assert_eq!(
        (answer["breaking"].as_u64(), answer["non_breaking"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(answer["major_bump"], false);
    assert_eq!(answer["policy"], "warn");
    assert_eq!(answer["verdict"], "publish-with-warning");
    assert_eq!(answer["changes"][0]["rule"], "path-removed");
    assert_eq!(answer["changes"][0]["severity"], "breaking");
    assert!(
        answer["changes"][0]["location"]
            .as_str()
            .unwrap()
            .contains("/owners"),
        "{answer}"
    );

    // An addition, sent as JSON: safe.
    let added: Value = yaml_as_json(&openapi(
        "Pets",
        "1.1.0",
        SERVER,
        &["pets", "owners", "toys"],
    ));
    let response = post_diff(&app, "pets", &added.to_string(), "application/json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["verdict"], "publish", "{answer}");
    assert_eq!(
        (answer["breaking"].as_u64(), answer["non_breaking"].as_u64()),
        (Some(0), Some(1))
    );

    // A major version may break.
    let major = openapi("Pets", "2.0.0", SERVER, &["pets"]);
    let answer: Value = post_diff(&app, "pets", &major, "application/yaml", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&answer["verdict"], &answer["major_bump"]),
        (&json!("publish"), &json!(true))
    );

    // Garbage is a 400 problem saying where; another API is a 400; unknown names are 404s.
    let response = post_diff(
        &app,
        "pets",
        "openapi: 3.0.3\ninfo: [unclosed\n",
        "application/yaml",
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert!(problem["line"].is_u64(), "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{problem}"
    );
    let stores = openapi("Stores", "2.0.0", SERVER, &["stores"]);
    let response = post_diff(&app, "pets", &stores, "application/yaml", None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = post_diff(&app, "nope", &unbumped, "application/yaml", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client()
        .post(format!(
            "{}/api/v1/apis/default/pets/diff?against=9.9.9",
            app.base
        ))
        .bearer_auth(&app.admin_token)
        .header(CONTENT_TYPE, "application/yaml")
        .body(unbumped.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Visitors and developers may not.
    let response = client()
        .post(format!("{}/api/v1/apis/default/pets/diff", app.base))
        .header(CONTENT_TYPE, "application/yaml")
        .body(unbumped.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
    let response = post_diff(&app, "pets", &unbumped, "application/yaml", Some(&dev)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Nothing was published.
    let api = json_get(&app, "/api/v1/apis/default/pets").await;
    assert_eq!(api["latest_version"], "1.0.0", "{api}");
}

/// A YAML document as JSON.
fn yaml_as_json(yaml: &str) -> Value {
    let spec = portico_catalog::spec::ParsedSpec::parse(
        yaml.as_bytes(),
        &portico_catalog::spec::SpecHint::default(),
    )
    .unwrap();
    spec.document().unwrap().clone()
}

#[tokio::test]
async fn a_preview_under_refuse_says_publishing_would_be_refused() {
    let app = app_with_pets_1(CatalogSettings {
        breaking_changes: BreakingChanges::Refuse,
        ..CatalogSettings::default()
    })
    .await;
    let unbumped = openapi("Pets", "1.1.0", SERVER, &["pets"]);
    let response = post_diff(&app, "pets", &unbumped, "application/yaml", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["policy"], "refuse", "{answer}");
    assert_eq!(answer["verdict"], "refused");
    let refusal = answer["refusal"].as_str().unwrap();
    assert!(
        refusal.contains("1 breaking change") && refusal.contains("breaking_changes"),
        "{refusal}"
    );
}

/// A `multipart/form-data` body: `csrf` first, then text fields, then an optional file.
fn preview_form(csrf: &str, pasted: &str, file: Option<(&str, &str)>) -> (String, String) {
    let boundary = "portico-test-boundary";
    let mut body = String::new();
    for (name, value) in [("csrf", csrf), ("pasted", pasted), ("against", "")] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    let (filename, content) = file.unwrap_or(("", ""));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{filename}\"\r\nContent-Type: application/yaml\r\n\r\n{content}\r\n--{boundary}--\r\n"
    ));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_preview_page_shows_the_verdict_of_an_uploaded_or_pasted_document() {
    let app = app_with_pets_1(CatalogSettings::default()).await;
    add_user(&app, "owner", "api-owner");
    let owner = sign_in(&app, "owner").await;
    let get = |path: &str, session: &crate::identity::Session| {
        client()
            .get(format!("{}{path}", app.base))
            .header(COOKIE, session.header())
            .send()
    };

    // Catalogue writers find it from the API page and the changelog; developers do not.
    for page in ["/apis/default/pets", "/apis/default/pets/changelog"] {
        let html = get(page, &owner).await.unwrap().text().await.unwrap();
        assert!(
            html.contains("href=\"/apis/default/pets/preview\""),
            "{page}: {html}"
        );
    }
    add_user(&app, "dev", "developer");
    let dev = sign_in(&app, "dev").await;
    let html = get("/apis/default/pets", &dev)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("/preview"), "{html}");
    let response = get("/apis/default/pets/preview", &dev).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = get("/apis/default/pets/preview", &owner).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("enctype=\"multipart/form-data\""), "{html}");

    let post = |content_type: String, body: String| {
        client()
            .post(format!("{}/apis/default/pets/preview", app.base))
            .header(COOKIE, owner.header())
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    // An uploaded file with a breaking change and no major bump.
    let unbumped = openapi("Pets", "1.1.0", SERVER, &["pets"]);
    let (content_type, body) = preview_form(&owner.csrf, "", Some(("pets.yaml", &unbumped)));
    let response = post(content_type, body).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(
            "1 breaking change without a major version bump (1.0.0 → 1.1.0): publishing would warn."
        ),
        "{html}"
    );
    assert!(html.contains("/owners</code>"), "{html}");

    // A pasted one that only adds.
    let added = openapi("Pets", "1.1.0", SERVER, &["pets", "owners", "toys"]);
    let (content_type, body) = preview_form(&owner.csrf, &added, None);
    let html = post(content_type, body)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Publishing 1.1.0 is safe: 1 non-breaking change since 1.0.0."),
        "{html}"
    );

    // Garbage says why, on the page; a form without its CSRF token changes nothing.
    let (content_type, body) = preview_form(&owner.csrf, "openapi: [unclosed\n", None);
    let response = post(content_type, body).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("cannot be read"), "{html}");
    let (content_type, body) = preview_form("0", &added, None);
    let response = post(content_type, body).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}
